"""Errors raised by the specification when it is given values it does not model.

``SpecError`` is the root; each module raises its own subclass, and every
message names the argument or field that was wrong and the rule it broke.
"""


class SpecError(ValueError):
    """A value outside what the specification models."""


class ModelError(SpecError):
    """A service, interface or system graph that is not well formed."""


class QualityError(SpecError):
    """An availability, time or count outside its domain."""


class CommunicationError(SpecError):
    """A latency, message, queue or event stream outside its domain."""


class StateError(SpecError):
    """A service or system state that is not well formed."""


class ConsistencyError(SpecError):
    """A history, operation or replica model that is not well formed."""
