"""The exception hierarchy of :mod:`impl`.

::

    MicroserviceError                 root: everything this package raises
    ├── ConfigurationError            a component was built wrongly (ValueError)
    │   └── InvalidWeightError        an instance's balancing weight is unusable
    ├── RegistryError                 the registry refused or could not serve
    │   ├── RegistrationRefused       invalid input; says which field and why
    │   └── RegistryUnavailable       the registry could not be reached
    ├── NoHealthyInstanceError        nothing to route a call to
    ├── CallError                     a call to an instance failed
    │   ├── CallTimeoutError          ... because it took too long
    │   └── RemoteError               ... because the instance answered an error
    ├── CircuitOpenError              the breaker rejected the call
    └── BulkheadFullError             no permit was free within the wait

A rejection raises a fresh exception object every time and carries what the
caller needs to act on it. Components refine these classes with the fields
they report (a breaker's name, state and retry time, say); they never raise
bare ``Exception``.
"""

from __future__ import annotations


class MicroserviceError(Exception):
    """Root of every exception raised by :mod:`impl`."""


class ConfigurationError(MicroserviceError, ValueError):
    """A component was constructed or configured with invalid arguments."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        #: The argument or field that was wrong, when one can be named.
        self.field = field


class InvalidWeightError(ConfigurationError):
    """An instance's ``endpoint.metadata["weight"]`` cannot be used to balance.

    ``service_name`` and ``instance_id`` name the instance, ``weight`` is the
    value found (``None`` when it was missing and no default applies).
    """

    def __init__(
        self, message: str, *, service_name: str, instance_id: str, weight: object
    ) -> None:
        super().__init__(message, field="endpoint.metadata.weight")
        self.service_name = service_name
        self.instance_id = instance_id
        self.weight = weight


class RegistryError(MicroserviceError):
    """The registry refused a request or could not serve it."""


class RegistrationRefused(RegistryError, ValueError):
    """The registry refused invalid input; the message names the field."""

    def __init__(
        self, message: str, *, field: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        #: The field that was wrong (dotted for nested ones: ``endpoint.port``).
        self.field = field
        #: The HTTP status of the refusal, when it came over HTTP.
        self.status = status


class RegistryUnavailable(RegistryError):
    """The registry could not be reached and no usable cached answer exists."""


class NoHealthyInstanceError(MicroserviceError):
    """No healthy instance of the requested service is known."""


class CallError(MicroserviceError):
    """A call to a service instance failed."""


class CallTimeoutError(CallError, TimeoutError):
    """A call to a service instance did not finish in time."""


class RemoteError(CallError):
    """The instance answered with an error status."""


class CircuitOpenError(MicroserviceError):
    """The circuit breaker rejected the call without making it."""


class BulkheadFullError(MicroserviceError):
    """The bulkhead had no free permit within the allowed wait."""
