"""Active health checking: probe every registered instance, mark what fails.

A :class:`HealthChecker` probes each live instance of a registry every
``check_interval`` seconds with ``GET`` on the instance's health URL and
records the result in the registry with ``set_status``.

Where probes go
    Only to the instance's own host and port: the URL is
    :attr:`~impl.endpoints.ServiceEndpoint.health_url`, which the endpoint
    has already confined to itself at registration (an absolute health URL
    naming another host or port is refused there). Redirects are not
    followed, since a redirect could send the probe anywhere: a ``3xx``
    answer is a failed probe. The checker verifies the URL once more before
    each probe and counts a URL that leaves the instance as a failure without
    sending anything.

What passes
    A ``2xx`` answer within ``timeout`` seconds. Anything else (another
    status, a refused connection, a timeout, a malformed URL) fails.

Flap damping
    One bad probe does not take an instance out of rotation, nor one good
    probe put it back: a healthy instance is marked unhealthy after
    ``failure_threshold`` consecutive failures, an unhealthy one healthy
    after ``success_threshold`` consecutive passes. A probe that agrees with
    the current mark resets the count.

Lifetime
    :meth:`start_health_check` starts one background task and returns;
    :meth:`stop_health_check` cancels it, waits for it (and so for every
    probe in flight) to finish, and closes the checker's own HTTP session.
    After it returns no task of the checker is left. Also usable as
    ``async with HealthChecker(...).running_on(registry):``.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp

from impl.endpoints import ServiceInstance
from impl.errors import ConfigurationError

logger = logging.getLogger("impl")


class HealthTarget(Protocol):
    """What the checker needs of a registry (:class:`ServiceRegistry` has it)."""

    async def list_services(self) -> tuple[str, ...]: ...

    async def get_instances(self, service_name: str) -> tuple[ServiceInstance, ...]: ...

    async def set_status(
        self, service_name: str, instance_id: str, status: str
    ) -> bool: ...


def _seconds(value: object, name: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigurationError(
            f"HealthChecker.{name}: must be a finite number of seconds > 0, "
            f"got {value!r}",
            field=name,
        )
    return float(value)


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(
            f"HealthChecker.{name}: must be an integer >= 1, got {value!r}",
            field=name,
        )
    return value


def stays_on_instance(instance: ServiceInstance, url: str) -> bool:
    """Whether ``url`` names the instance's own scheme, host and port."""
    endpoint = instance.endpoint
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    return (parts.scheme, host, port) == (
        endpoint.protocol,
        endpoint.host.lower(),
        endpoint.port,
    )


class HealthChecker:
    """Probes instances over HTTP and marks them healthy or unhealthy.

    Args:
        check_interval: seconds between the start of one round and the next.
        timeout: seconds a probe may take before it counts as failed.
        failure_threshold: consecutive failures that mark a healthy instance
            unhealthy.
        success_threshold: consecutive passes that mark an unhealthy instance
            healthy.
        max_concurrent_probes: probes in flight at once within a round.
        session: an aiohttp session to probe with; by default the checker
            opens its own and closes it when stopped.
    """

    def __init__(
        self,
        check_interval: float = 30.0,
        *,
        timeout: float = 5.0,
        failure_threshold: int = 3,
        success_threshold: int = 2,
        max_concurrent_probes: int = 64,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.check_interval = _seconds(check_interval, "check_interval")
        self.timeout = _seconds(timeout, "timeout")
        self.failure_threshold = _count(failure_threshold, "failure_threshold")
        self.success_threshold = _count(success_threshold, "success_threshold")
        self._limit = _count(max_concurrent_probes, "max_concurrent_probes")
        self._session = session
        self._own_session = session is None
        self._task: asyncio.Task[None] | None = None
        #: Per instance: consecutive probes that disagreed with its mark.
        self._streaks: dict[tuple[str, str], int] = {}
        #: Probes sent, probes failed, rounds run, marks changed either way.
        self.counters: dict[str, int] = dict.fromkeys(
            ("probes", "failures", "rounds", "marked_unhealthy", "marked_healthy"), 0
        )

    # Probing --------------------------------------------------------------

    async def probe(self, instance: ServiceInstance) -> bool:
        """One probe of ``instance``: True if it answered 2xx in time."""
        url = instance.endpoint.health_url
        self.counters["probes"] += 1
        if not stays_on_instance(instance, url):
            logger.warning(
                "health probe of %s/%s refused: %s leaves the instance",
                instance.service_name,
                instance.instance_id,
                url,
            )
            return False
        try:
            async with self._open().get(
                url,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                return 200 <= response.status < 300
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
            return False

    async def check_once(self, registry: HealthTarget) -> dict[tuple[str, str], bool]:
        """Probe every live instance once and update the marks.

        Returns each probed instance's probe result, by (service, id).
        """
        instances = [
            instance
            for name in await registry.list_services()
            for instance in await registry.get_instances(name)
        ]
        gate = asyncio.Semaphore(self._limit)

        async def gated(instance: ServiceInstance) -> bool:
            async with gate:
                return await self.probe(instance)

        results = await asyncio.gather(*(gated(i) for i in instances))
        seen: dict[tuple[str, str], bool] = {}
        for instance, passed in zip(instances, results, strict=True):
            seen[instance.key] = passed
            if not passed:
                self.counters["failures"] += 1
            await self._judge(registry, instance, passed)
        for gone in set(self._streaks) - set(seen):
            del self._streaks[gone]
        self.counters["rounds"] += 1
        return seen

    async def _judge(
        self, registry: HealthTarget, instance: ServiceInstance, passed: bool
    ) -> None:
        if passed == instance.healthy:
            self._streaks[instance.key] = 0
            return
        streak = self._streaks.get(instance.key, 0) + 1
        needed = self.failure_threshold if instance.healthy else self.success_threshold
        if streak < needed:
            self._streaks[instance.key] = streak
            return
        self._streaks[instance.key] = 0
        status = "healthy" if passed else "unhealthy"
        if await registry.set_status(
            instance.service_name, instance.instance_id, status
        ):
            self.counters["marked_healthy" if passed else "marked_unhealthy"] += 1

    # Lifetime -------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start_health_check(self, registry: HealthTarget) -> None:
        """Start probing ``registry`` in the background; returns at once."""
        if self.running:
            raise ConfigurationError(
                "HealthChecker.start_health_check: already running; call "
                "stop_health_check() first"
            )
        self._task = asyncio.create_task(self._loop(registry), name="health-checker")

    async def stop_health_check(self) -> None:
        """Stop probing and wait until nothing of the checker is left running."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
        if self._own_session and self._session is not None:
            session, self._session = self._session, None
            await session.close()

    @asynccontextmanager
    async def running_on(self, registry: HealthTarget) -> AsyncIterator[HealthChecker]:
        """``async with checker.running_on(registry):`` starts and stops it."""
        await self.start_health_check(registry)
        try:
            yield self
        finally:
            await self.stop_health_check()

    async def _loop(self, registry: HealthTarget) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self.check_once(registry)
            except Exception:
                # A round that failed (the registry raised, say) is logged and
                # the next one runs on schedule; there is no caller to raise to.
                logger.exception("health check round failed")
            await asyncio.sleep(max(0.0, started + self.check_interval - loop.time()))

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if not self._own_session:
                raise ConfigurationError(
                    "HealthChecker: the session it was given has been closed"
                )
            self._session = aiohttp.ClientSession()
        return self._session
