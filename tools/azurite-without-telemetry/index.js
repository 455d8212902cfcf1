"use strict";
// Azurite loads its telemetry client (Application Insights, with OpenTelemetry: ~220 packages) when it starts, and
// uses it only with telemetry on. fninfer always starts Azurite with --disableTelemetry (fninfer_host/azurite.py),
// so the project installs this in its place (package.json, "overrides"): neither `npm ci` nor each Azurite start
// pays for a client that is never used. Turning telemetry on reaches this, and fails saying why.
function refuse() {
  throw new Error(
    "Azurite's telemetry client is not installed in this project (package.json overrides it): " +
      "run Azurite with --disableTelemetry, as fninfer start does",
  );
}

module.exports = { setup: refuse, start: refuse, TelemetryClient: refuse };
