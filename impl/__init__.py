"""The asyncio reference implementation of microservice theory.

Importable as ``impl``; it keeps the public names of the theory's code sketch
(``ServiceRegistry``, ``RoundRobinStrategy``, ``CircuitBreaker`` and the rest)
and gets them right. Logic reads the running loop's clock, never the wall
clock, so the same code runs in production and, deterministically, on the
virtual-time loop of the test harness.

Errors raised by this package derive from :class:`impl.errors.MicroserviceError`.
"""

from impl.errors import MicroserviceError

__all__ = ["MicroserviceError"]
