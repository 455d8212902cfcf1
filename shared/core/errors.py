"""The one error hierarchy of fninfer's domain.

    FninferError                      500 internal
    ├── InvalidInput                  400 invalid_input      (a field, name or body the caller sent is wrong)
    │   ├── PayloadTooLarge           413 payload_too_large  (a body or message over its limit)
    │   └── UnsupportedMediaType      415 unsupported_media_type (a scoring body that is not the JSON run() takes)
    ├── Unauthorized                  401 unauthorized       (no credential, or a wrong one)
    │   └── KeyRegenerated            401 key_regenerated    (a service key that was valid and was regenerated)
    ├── Forbidden                     403 forbidden          (a valid credential for something else)
    ├── NotFound                      404 not_found          (the named thing does not exist)
    ├── Conflict                      409 conflict           (the thing exists, or changed under us)
    │   ├── ConcurrencyConflict       409 concurrency_conflict (an If-Match / If-None-Match write lost a race)
    │   └── LeaseLost                 409 lease_lost         (another owner took a batch work item's lease)
    ├── IntegrityError                409 integrity_error    (stored content no longer matches its recorded sha256)
    ├── StorageUnavailable            503 storage_unavailable (Azure Storage did not answer)
    ├── ServiceUnavailable            503 service_unavailable (a real-time service is not Healthy)
    │   └── ServiceBusy               503 service_busy       (a service's concurrent calls are at their bound)
    ├── EntryScriptFailed             500 entry_script_failed (importing an entry script, or its init(), raised)
    ├── ScoringFailed                 500 scoring_failed     (a service's run() raised)
    └── ScoringTimeout                504 scoring_timeout    (a service's run() did not return in time)

Each class carries the HTTP status it maps to and a stable machine code. `functions/_http.py` is the one place
that turns them into responses; the SDK raises the same classes from the JSON bodies it gets back, so a caller
catches one hierarchy whether it talks to the app over HTTP or to storage directly. A scoring answer written the way
Azure ML's own scoring server writes errors (`{"message": ...}`, no code) is mapped by its status.
"""

from __future__ import annotations

from typing import Any, ClassVar


class FninferError(Exception):
    """Root of every error fninfer raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": {"code": self.code, "message": self.message}}
        if self.details:
            body["error"]["details"] = self.details
        return body


class InvalidInput(FninferError):
    """A request field, name or body is malformed or out of range."""

    status = 400
    code = "invalid_input"


class PayloadTooLarge(InvalidInput):
    """A request body or message exceeds its size limit."""

    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(InvalidInput):
    """A scoring body whose content type is not what run() takes (JSON for an @input_schema run())."""

    status = 415
    code = "unsupported_media_type"


class Unauthorized(FninferError):
    """No credential was presented, or the one presented is not valid."""

    status = 401
    code = "unauthorized"


class KeyRegenerated(Unauthorized):
    """A key the app issued for a service, which the service record at hand no longer (or not yet) lists: the
    runtime reads the record again before refusing it."""

    code = "key_regenerated"


class Forbidden(FninferError):
    """The credential is valid but does not grant access to this resource."""

    status = 403
    code = "forbidden"


class NotFound(FninferError):
    """The named resource (model, version, dataset, ...) does not exist."""

    status = 404
    code = "not_found"


class Conflict(FninferError):
    """The resource already exists or is in a state that forbids the operation."""

    status = 409
    code = "conflict"


class ConcurrencyConflict(Conflict):
    """A conditional storage write (If-Match / If-None-Match) lost a race with another writer."""

    code = "concurrency_conflict"


class LeaseLost(Conflict):
    """Another owner took a batch work item's lease (ours expired): stop writing on its behalf."""

    code = "lease_lost"


class IntegrityError(FninferError):
    """Stored content no longer matches the sha256 recorded when it was registered."""

    status = 409
    code = "integrity_error"


class StorageUnavailable(FninferError):
    """Azure Storage (or Azurite) could not be reached or answered with a server error."""

    status = 503
    code = "storage_unavailable"


class ServiceUnavailable(FninferError):
    """A real-time service cannot take calls: still deploying, failed, or Unhealthy on this instance."""

    status = 503
    code = "service_unavailable"


class ServiceBusy(ServiceUnavailable):
    """A service's calls on this instance are at its `replica_max_concurrent_requests` for longer than its
    `max_request_wait_time` (or its threads are stuck in a run() that does not return)."""

    code = "service_busy"


class EntryScriptFailed(FninferError):
    """Importing an entry script or its init() raised (whatever it raised, SystemExit included): a service's
    deployment ends Failed with this reason, a batch step's mini-batches fail with it (details: the traceback and
    what the script printed)."""

    status = 500
    code = "entry_script_failed"


class ScoringFailed(FninferError):
    """A service's run() raised; the traceback is in the service's logs under the request's id."""

    status = 500
    code = "scoring_failed"


class ScoringTimeout(FninferError):
    """A service's run() did not return within the service's scoring timeout."""

    status = 504
    code = "scoring_timeout"


_BY_CODE: dict[str, type[FninferError]] = {
    cls.code: cls
    for cls in (
        FninferError,
        InvalidInput,
        PayloadTooLarge,
        UnsupportedMediaType,
        Unauthorized,
        KeyRegenerated,
        Forbidden,
        NotFound,
        Conflict,
        ConcurrencyConflict,
        LeaseLost,
        IntegrityError,
        StorageUnavailable,
        ServiceUnavailable,
        ServiceBusy,
        EntryScriptFailed,
        ScoringFailed,
        ScoringTimeout,
    )
}

#: For bodies without a code (a scoring error as Azure ML's server writes it: `{"message": ...}`).
_BY_STATUS: dict[int, type[FninferError]] = {
    400: InvalidInput,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    500: ScoringFailed,
    503: ServiceUnavailable,
    504: ScoringTimeout,
}


def error_from_body(status: int, body: Any) -> FninferError:
    """Rebuild the domain error a JSON error body describes (used by the SDK on 4xx/5xx answers)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        message = body.get("message") if isinstance(body, dict) else None
        if isinstance(message, str) and status in _BY_STATUS:
            return _BY_STATUS[status](message)
        return FninferError(f"HTTP {status}: {body!r}")
    cls = _BY_CODE.get(str(error.get("code")), FninferError)
    details = error.get("details") or {}
    return cls(str(error.get("message", f"HTTP {status}")), **(details if isinstance(details, dict) else {}))
