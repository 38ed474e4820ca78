"""The exception hierarchy of :mod:`impl`.

::

    MicroserviceError               root: everything this package raises
    ├── ConfigurationError          you built a component wrongly (also ValueError)
    └── ...                         kinds added by each component: no healthy
                                    instance, circuit open, bulkhead full, call
                                    timed out, registry refused the input

A rejection raises a fresh exception object every time and carries what the
caller needs to act on it (for a breaker: its name, state and retry time).
"""

from __future__ import annotations


class MicroserviceError(Exception):
    """Root of every exception raised by :mod:`impl`."""


class ConfigurationError(MicroserviceError, ValueError):
    """A component was constructed or configured with invalid arguments."""
