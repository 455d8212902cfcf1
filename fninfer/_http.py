"""The TLS context every HTTP client of the SDK verifies servers with: httpx's default (certifi's CAs, or the
bundle SSL_CERT_FILE / SSL_CERT_DIR names), built once per process. Building one loads the CA bundle, about 30 ms of
CPU, which each client would otherwise pay again: `Webservice.run` makes a client per call (as Azure ML's calls
`requests.post`), and every `Workspace` has one."""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()
