"""`azureml.exceptions`' classes, placed in fninfer's one error hierarchy (shared/core/errors.py).

v1 code catches `WebserviceException`, `UserErrorException`, `ModelNotFoundException`...; fninfer code and tests
catch `InvalidInput`, `NotFound`, `FninferError`. Both keep working: every class here is a `FninferError`, the ones
with an HTTP meaning also derive from the matching class (`UserErrorException` is an `InvalidInput`,
`ModelNotFoundException` a `NotFound`), and `webservice_error` turns an error the app answered into a
`WebserviceException` that is still the `NotFound` / `Conflict` / ... it was.
"""

from __future__ import annotations

import functools
import sys
import traceback
from typing import Any

from shared.core.errors import FninferError, InvalidInput, NotFound, Unauthorized


class AzureMLException(FninferError):
    """Mirrors `azureml.exceptions.AzureMLException`: the root of the SDK's own errors. `inner_exception` is the
    error this one was raised from (given, or its `__cause__`)."""

    def __init__(self, exception_message: str = "", inner_exception: Any = None, **kwargs: Any) -> None:
        # azureml's constructors take `logger=` and similar plumbing; only data worth showing is kept as details.
        details = {key: value for key, value in kwargs.items() if key != "logger" and value is not None}
        super().__init__(str(exception_message), **details)
        self._inner_exception = inner_exception
        self._exc_info = sys.exc_info()

    @property
    def inner_exception(self) -> Any:
        return self._inner_exception if self._inner_exception is not None else self.__cause__

    @inner_exception.setter
    def inner_exception(self, value: Any) -> None:
        self._inner_exception = value

    def print_stacktrace(self) -> None:
        """Print where this error (or the one being handled when it was made) was raised, as Azure ML's does."""
        if self.__traceback__ is not None:
            traceback.print_exception(type(self), self, self.__traceback__)
        elif self._exc_info[0] is not None:
            traceback.print_exception(*self._exc_info)
        else:
            traceback.print_exception(type(self), self, None)


class AzureMLAggregatedException(AzureMLException):
    def __init__(self, exceptions_list: list[BaseException], **kwargs: Any) -> None:
        super().__init__("; ".join(str(e) for e in exceptions_list), **kwargs)
        self.exceptions_list = exceptions_list


class UserErrorException(AzureMLException, InvalidInput):
    """A value the caller gave is wrong (400)."""


class AuthenticationException(UserErrorException, Unauthorized):
    status = Unauthorized.status
    code = Unauthorized.code


class WebserviceException(AzureMLException):
    """A deployment failed, or a call to a service or the model registry did (`status_code` when the app
    answered one)."""

    def __init__(self, exception_message: str = "", status_code: int | None = None, **kwargs: Any) -> None:
        super().__init__(exception_message, status_code=status_code, **kwargs)
        self.status_code = status_code


class ModelNotFoundException(AzureMLException, NotFound):
    """No such model (or version) in the registry."""


class ModelPathNotFoundException(AzureMLException, NotFound):
    """A model's file is not where the entry script looks for it."""


class ComputeTargetException(AzureMLException):
    pass


class WorkspaceException(AzureMLException):
    def __init__(self, exception_message: str = "", found_multiple: bool = False, **kwargs: Any) -> None:
        super().__init__(exception_message, **kwargs)
        self.found_multiple = found_multiple


class WorkspacePrivateEndpointException(WorkspaceException):
    pass


class RunConfigurationException(AzureMLException):
    pass


class SnapshotException(AzureMLException):
    pass


class TrainingException(AzureMLException):
    pass


class ExperimentExecutionException(AzureMLException):
    pass


class ProjectSystemException(AzureMLException):
    pass


class RunEnvironmentException(AzureMLException):
    pass


class DiscoveryUrlNotFoundException(AzureMLException):
    pass


class DatasetTimestampMissingError(AzureMLException):
    pass


class ParallelRunException(AzureMLException):
    """Mirrors azureml's: raised by an entry script to ask for a retry behaviour (`code`: "Retry.NoRetry",
    "Retry.StopProcess", "Retry.RestartProcess" or "Retry.Sleep") after `delay_seconds`. The codes are kept on the
    error; fninfer's mini-batch runner retries a failed mini-batch by its own rules."""

    def __init__(self, exception_message: str = "", code: str | None = None, delay_seconds: float = 0, **kwargs: Any):
        super().__init__(exception_message, **kwargs)
        self.code = code or "Retry.Sleep"  # type: ignore[misc]
        self.delay_seconds = delay_seconds


class ActivityFailedException(AzureMLException):
    """A run ended Failed (or Canceled) while `wait_for_completion(raise_on_error=True)` waited for it."""

    def __init__(self, error_details: str, **kwargs: Any) -> None:
        super().__init__(f"Activity Failed:\n{error_details}", **kwargs)


class ServiceException(AzureMLException):
    """An HTTP answer from the service (the app) that was an error: `status_code`, `response` (an httpx response
    when there was one) and `error` (the answered error body), as Azure ML's has them."""

    def __init__(self, error_response_exception: Any = "", **kwargs: Any) -> None:
        response = getattr(error_response_exception, "response", None)
        status_code = kwargs.pop("status_code", getattr(response, "status_code", None))
        super().__init__(str(error_response_exception), inner_exception=error_response_exception, **kwargs)
        self.response = response
        self.status_code = status_code
        self.error = getattr(error_response_exception, "error", None)


@functools.cache
def _kind(azureml: type[AzureMLException], base: type[FninferError]) -> type[AzureMLException]:
    """The class that is both `azureml`'s exception and the domain error `base` (its status and code)."""
    if issubclass(base, azureml):
        return base
    if base is FninferError:
        return azureml
    name = f"{azureml.__name__}_{base.__name__}"
    return type(name, (azureml, base), {"__module__": __name__, "__qualname__": name})


def azureml_error(azureml: type[AzureMLException], error: FninferError, context: str | None = None) -> AzureMLException:
    """`error` as Azure ML's exception `azureml` that is still the domain error it was (a ComputeTargetException
    that is a NotFound, ...); `context` prefixes the message."""
    if isinstance(error, azureml):
        return error
    message = f"{context}: {error.message}" if context else error.message
    details = {**error.details, "status_code": error.status} if azureml is WebserviceException else error.details
    converted = _kind(azureml, type(error))(message, **details)
    converted.__cause__ = error
    return converted


def webservice_error(error: FninferError, context: str | None = None) -> WebserviceException:
    """`error` as a WebserviceException of the same kind (and HTTP status), as Azure ML's Webservice and Model
    calls raise; `context` prefixes the message (Azure ML writes e.g. 'WebserviceNotFound: ...')."""
    converted = azureml_error(WebserviceException, error, context)
    assert isinstance(converted, WebserviceException)
    return converted


def invalid(message: str, **details: Any) -> WebserviceException:
    """A value given to a Webservice or Model call is wrong: a WebserviceException (what Azure ML raises) that is
    also an InvalidInput (400), as the app would answer it."""
    return webservice_error(InvalidInput(message, **details))
