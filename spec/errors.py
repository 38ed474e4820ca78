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
