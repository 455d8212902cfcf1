"""Plain storage requests' retries and authorization (shared/core/storage_requests.py); against Azurite in
tests/integration/test_storage.py."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.storage.blob import ExponentialRetry

from shared.core.errors import ConcurrencyConflict, NotFound, StorageUnavailable
from shared.core.storage import RETRY
from shared.core.storage_requests import Authorization, Retrying, StorageAnswer, StorageRequest, failure


def answers(*outcomes: int | Exception) -> tuple[list[StorageRequest], Any]:
    sent: list[StorageRequest] = []
    left = list(outcomes)

    def exchange(request: StorageRequest) -> StorageAnswer:
        sent.append(request)
        outcome = left.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return StorageAnswer(outcome, {"x-ms-error-code": "ServerBusy"} if outcome >= 500 else {})

    return sent, exchange


def test_requests_are_tried_again_as_the_sdks_retry_policy_says() -> None:
    """No answer, 408 and 5xx (but 501, 505) are tried again after the policy's backoffs (the SDK's formula: 1 + 2^n
    seconds for the n-th retry, jittered by 1); past its retries the last answer stands or StorageUnavailable."""
    slept: list[float] = []
    retrying = Retrying(ExponentialRetry(**RETRY), sleep=slept.append)
    request = StorageRequest("GET", "http://storage/c/b", {})
    sent, exchange = answers(ServiceRequestError("refused"), 503, 200)
    assert retrying.send(exchange, request, "c/b").status_code == 200
    assert len(sent) == 3
    assert 2 <= slept[0] <= 4 and 4 <= slept[1] <= 6  # retries 1 and 2: 1 + 2 and 1 + 4 seconds, +-1

    for final in (404, 409, 412, 501):
        sent, exchange = answers(final)
        assert retrying.send(exchange, request, "c/b").status_code == final
        assert len(sent) == 1
    sent, exchange = answers(500, 408, 503)
    assert retrying.send(exchange, request, "c/b").status_code == 503
    sent, exchange = answers(ServiceResponseError("lost"), ServiceResponseError("lost"), ServiceRequestError("down"))
    with pytest.raises(StorageUnavailable, match="did not answer while accessing c/b: down"):
        retrying.send(exchange, request, "c/b")


def test_answers_that_are_not_successes_are_the_domains_errors() -> None:
    assert isinstance(failure(StorageAnswer(404, {}), "c/b"), NotFound)
    for status, code in ((409, "BlobAlreadyExists"), (412, "ConditionNotMet")):
        assert (
            str(failure(StorageAnswer(status, {"x-ms-error-code": code}), "c/b")) == "c/b was changed by another writer"
        )
    leased = failure(StorageAnswer(409, {"x-ms-error-code": "LeaseIdMissing"}), "c/b")
    assert isinstance(leased, ConcurrencyConflict) and "LeaseIdMissing" in str(leased)
    refused = failure(StorageAnswer(403, {"x-ms-error-code": "AuthenticationFailed"}), "c/b")
    assert isinstance(refused, StorageUnavailable) and str(refused).endswith("403 AuthenticationFailed")


class Tokens:
    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self.issued = 0

    def get_token(self, *scopes: str) -> AccessToken:
        assert scopes == ("https://storage.azure.com/.default",)
        self.issued += 1
        return AccessToken(f"token-{self.issued}", int(time.time() + self.lifetime))


def test_an_identity_authorizes_with_its_token_fetched_again_before_it_ends() -> None:
    """An Entra credential (the app on Azure): the token the SDK would send, in the Authorization header with the
    request's date; fetched once while it has more than SAS_MARGIN left, again when it has less."""
    lasting, ending = Tokens(lifetime=3600), Tokens(lifetime=60)
    for tokens, issued in ((lasting, 1), (ending, 2)):
        authorization = Authorization(credential=tokens)
        for _ in range(2):
            headers: dict[str, str] = {}
            assert authorization.apply("https://a.blob.core.windows.net/c/b", headers) == (
                "https://a.blob.core.windows.net/c/b"
            )
        assert headers["Authorization"] == f"Bearer token-{issued}"
        assert headers["x-ms-date"].endswith("GMT")
        assert tokens.issued == issued


def test_an_account_key_signs_a_sas_again_before_it_ends() -> None:
    signed: list[datetime] = []

    def sign(expiry: datetime) -> str:
        signed.append(expiry)
        return f"sig={len(signed)}"

    authorization = Authorization(sign_sas=sign)
    assert authorization.apply("http://a/c/b", {}) == "http://a/c/b?sig=1"
    assert authorization.apply("http://a/c?comp=list", {}) == "http://a/c?comp=list&sig=1"
    assert len(signed) == 1 and signed[0] > datetime.now(UTC)
    authorization._renew_at = datetime.now(UTC)  # the SAS nears its end
    assert authorization.apply("http://a/c/b", {}) == "http://a/c/b?sig=2"
    assert Authorization(query="sv=1&sig=own").apply("http://a/c/b", {}) == "http://a/c/b?sv=1&sig=own"
