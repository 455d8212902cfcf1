"""The TLS context every HTTP client of the SDK verifies servers with: httpx's default (certifi's CAs, or the
bundle SSL_CERT_FILE / SSL_CERT_DIR names at the first call), built once per process. Building one loads the whole
CA bundle, which costs more than a scoring call itself, and httpx builds one for each client, whatever the URL's
scheme: `Webservice.run` makes a client per call (as Azure ML's makes a requests Session per call), and every
`Workspace` has one."""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()
