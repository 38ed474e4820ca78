"""Transports: how a client's call reaches an instance and its answer comes back.

A call to a service is ``POST /{method}`` on the chosen instance with the data
as a JSON body; the answer is the decoded JSON of the response. A
:class:`Transport` does exactly that and nothing else: choosing the instance,
retrying and timing out belong to the client and its resilience layers.

Two transports share one contract, in the manner of httpx's real and mock
transports:

- :class:`AiohttpTransport` sends real HTTP with aiohttp, over one pooled
  session it opens on first use and closes in :meth:`Transport.aclose`.
- :class:`InMemoryTransport` hands the request to a Python function in the same
  process. It can delay calls (in loop time, so on the virtual-time loop a
  delay costs nothing) and lose requests or answers at random from a seeded
  generator, which makes it the network of simulations.

Both encode the data as JSON before sending and decode the answer after, so a
value that could not cross a real network cannot cross the in-memory one
either, and a handler never shares an object with its caller. Both report
failures the same way:

- a status of 400 or more: :class:`~impl.errors.RemoteError` with the status;
- a refused, reset or dropped connection, or a lost message:
  :class:`~impl.errors.ConnectionFailed`;
- an answer that is not JSON: :class:`~impl.errors.RemoteError`.

A lossy, slow in-memory network, reproducible from its seed:

>>> import asyncio
>>> from impl.endpoints import ServiceEndpoint, ServiceInstance
>>> users = ServiceInstance("users", "users-1", ServiceEndpoint("127.0.0.1", 8001))
>>> net = InMemoryTransport(
...     lambda request: {"id": request.body["id"], "by": request.instance_id},
...     latency=0.05,
...     loss=0.5,
...     seed=7,
... )
>>> async def ten_calls() -> list[object]:
...     answers: list[object] = []
...     for i in range(10):
...         try:
...             answers.append(await net.post(users, "get_user", {"id": i}))
...         except ConnectionFailed:
...             answers.append("lost")
...     return answers
>>> answers = asyncio.run(ten_calls())
>>> net.stats.sent, net.stats.lost_requests + net.stats.answered
(10, 10)
>>> answers.count("lost") == net.stats.lost_requests
True
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import aiohttp

from impl.endpoints import ServiceInstance
from impl.errors import (
    CallError,
    CallTimeoutError,
    ConfigurationError,
    ConnectionFailed,
    RemoteError,
)

logger = logging.getLogger("impl")

#: A method name is one path segment: it can never leave ``/{method}``.
_METHOD = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.~-]{0,127}$")
#: How much of an error answer's text an exception keeps.
BODY_EXCERPT = 200


def check_method(method: object) -> str:
    """A method name: one URL path segment of letters, digits and ``_.~-``."""
    if not isinstance(method, str) or not _METHOD.match(method) or ".." in method:
        raise ConfigurationError(
            "method: must be 1-128 characters of letters, digits and '_.~-', "
            f"one path segment without '..'; got {method!r}"
        )
    return method


def encode_body(data: Any) -> bytes:
    """The JSON body of a call; data that is not JSON is refused."""
    try:
        return json.dumps(data, allow_nan=False, separators=(",", ":")).encode()
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"data: must be JSON data: {exc}") from None


@dataclass(frozen=True)
class ServiceRequest:
    """One call as it travels: the instance, the method and the decoded body."""

    instance: ServiceInstance
    method: str
    body: Any = None

    @property
    def instance_id(self) -> str:
        return self.instance.instance_id

    @property
    def url(self) -> str:
        return f"{self.instance.endpoint.base_url}/{self.method}"


class Transport:
    """Sends one call to one instance and returns the decoded JSON answer.

    Subclasses implement :meth:`send`; :meth:`post` validates the method and
    encodes the data first. A transport is an async context manager that
    closes itself on exit.
    """

    async def post(
        self, instance: ServiceInstance, method: str, data: Any = None
    ) -> Any:
        """``POST /{method}`` on ``instance`` with ``data`` as a JSON body."""
        return await self.send(instance, check_method(method), encode_body(data))

    async def send(self, instance: ServiceInstance, method: str, body: bytes) -> Any:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release what the transport holds (connections, sessions)."""

    async def __aenter__(self) -> Transport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _decode(instance: ServiceInstance, method: str, status: int, text: str) -> Any:
    where = f"{instance.service_name}/{instance.instance_id} POST /{method}"
    if status >= 400:
        raise RemoteError(
            f"{where} answered {status}: {text[:BODY_EXCERPT]!r}",
            status=status,
            body=text[:BODY_EXCERPT],
        )
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise RemoteError(
            f"{where} answered {status} with a body that is not JSON: "
            f"{text[:BODY_EXCERPT]!r}",
            status=status,
            body=text[:BODY_EXCERPT],
        ) from None


# Real HTTP -------------------------------------------------------------------


class AiohttpTransport(Transport):
    """Real HTTP through one pooled :class:`aiohttp.ClientSession`.

    Args:
        session: a session to use; the transport then leaves closing it to
            its owner. Without one, a session is opened on first use in the
            running loop and closed by :meth:`aclose`.
        limit: most connections open at once (pool size) when the transport
            opens its own session.
        timeout: seconds a whole request may take before
            :class:`~impl.errors.CallTimeoutError`; ``None`` leaves timing out
            to the client's timeout layer. Read from the loop's clock, like
            every timer in this package.

    The session never reads proxy settings from the environment, so a request
    goes to the instance's own host and port and nowhere else.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        limit: int = 100,
        timeout: float | None = None,
    ) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigurationError(
                f"AiohttpTransport limit: must be a positive integer, got {limit!r}"
            )
        if timeout is not None and not timeout > 0:
            raise ConfigurationError(
                f"AiohttpTransport timeout: must be positive or None, got {timeout!r}"
            )
        self._session = session
        self._owns_session = session is None
        self._limit = limit
        self._timeout = timeout

    @property
    def session(self) -> aiohttp.ClientSession | None:
        return self._session

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit),
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                trust_env=False,
            )
            self._owns_session = True
        return self._session

    async def send(self, instance: ServiceInstance, method: str, body: bytes) -> Any:
        url = f"{instance.endpoint.base_url}/{method}"
        session = self._open()
        try:
            async with session.post(
                url, data=body, headers={"Content-Type": "application/json"}
            ) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise ConnectionFailed(
                f"{instance.service_name}/{instance.instance_id} POST /{method}: "
                f"connection failed ({type(exc).__name__}: {exc})"
            ) from exc
        except TimeoutError as exc:
            raise CallTimeoutError(
                f"{instance.service_name}/{instance.instance_id} POST /{method}: "
                f"no answer within the transport timeout of {self._timeout} s",
                timeout=self._timeout,
            ) from exc
        logger.debug("POST %s -> %s", url, status)
        return _decode(instance, method, status, text)

    async def aclose(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None


# In memory -------------------------------------------------------------------


@dataclass(frozen=True)
class InMemoryResponse:
    """What a handler returns to answer with a status other than 200."""

    status: int
    body: Any = None


@dataclass
class TransportStats:
    """Counters of an :class:`InMemoryTransport`; they only ever grow.

    ``sent`` requests either were lost on the way (``lost_requests``), reached
    the handler (``delivered``), or are still travelling; a delivered request
    either was answered (``answered``, error statuses included), had its
    answer lost (``lost_responses``), was cancelled, or is still being handled.
    """

    sent: int = 0
    lost_requests: int = 0
    delivered: int = 0
    answered: int = 0
    lost_responses: int = 0
    cancelled: int = 0


Handler: TypeAlias = Callable[[ServiceRequest], Any]
Latency: TypeAlias = float | Callable[[ServiceRequest], float]


class InMemoryTransport(Transport):
    """A network in the process: each request is handed to ``handler``.

    Args:
        handler: called with a :class:`ServiceRequest` whose ``body`` is the
            decoded JSON; returns the answer's JSON data (status 200), an
            :class:`InMemoryResponse`, or an awaitable of either. Raising a
            :class:`~impl.errors.CallError` simulates a network fault and
            reaches the caller as it is; raising anything else is a crashed
            server, answered with status 500.
        latency: seconds between sending and the handler's start, a number or
            a function of the request (draw from ``transport.rng`` for random
            delays). Waited with ``asyncio.sleep``, so in loop time.
        loss: probability that a request is lost before reaching the handler.
        response_loss: probability that an answer is lost after the handler
            ran (the call took effect; the caller cannot know).
        loss_mode: what the caller sees of a loss: ``"error"`` raises
            :class:`~impl.errors.ConnectionFailed` after the latency, as a
            reset connection does; ``"hang"`` never answers, as a silent
            network does, so only the caller's timeout ends the call.
        seed: seed of :attr:`rng`, which draws the losses; the same seed and
            the same calls give the same losses.

    Lossy and delayed networks, for simulations:

    - ``InMemoryTransport(h, loss=0.1, seed=1)``: one request in ten lost,
      reported at once;
    - ``InMemoryTransport(h, latency=0.02, loss=0.1, loss_mode="hang")``: 20 ms
      per call, lost calls hang until the caller's timeout;
    - ``InMemoryTransport(h, latency=lambda r: t.rng.expovariate(50))`` (with
      ``t`` the transport): exponentially distributed delays, mean 20 ms;
    - ``InMemoryTransport(h, response_loss=0.2)``: the handler runs, one
      answer in five is lost, so a retrying caller causes duplicates.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        latency: Latency = 0.0,
        loss: float = 0.0,
        response_loss: float = 0.0,
        loss_mode: Literal["error", "hang"] = "error",
        seed: int | None = None,
    ) -> None:
        if not callable(handler):
            raise ConfigurationError(
                f"InMemoryTransport handler: must be callable, got {handler!r}"
            )
        if not callable(latency) and not (
            isinstance(latency, int | float) and latency >= 0
        ):
            raise ConfigurationError(
                "InMemoryTransport latency: must be a number >= 0 or a function "
                f"of the request, got {latency!r}"
            )
        for name, p in (("loss", loss), ("response_loss", response_loss)):
            if not isinstance(p, int | float) or not 0 <= p <= 1:
                raise ConfigurationError(
                    f"InMemoryTransport {name}: must be a probability in [0, 1], "
                    f"got {p!r}"
                )
        if loss_mode not in ("error", "hang"):
            raise ConfigurationError(
                "InMemoryTransport loss_mode: must be 'error' or 'hang', "
                f"got {loss_mode!r}"
            )
        self.handler = handler
        self.latency = latency
        self.loss = float(loss)
        self.response_loss = float(response_loss)
        self.loss_mode = loss_mode
        #: The generator of losses (and of random latencies, if you use it).
        self.rng = random.Random(seed)
        self.stats = TransportStats()

    def _delay(self, request: ServiceRequest) -> float:
        latency = self.latency
        delay = float(latency(request) if callable(latency) else latency)
        if not delay >= 0:
            raise ConfigurationError(
                f"InMemoryTransport latency: the function returned {delay!r} for "
                f"{request.url}; delays must be numbers >= 0"
            )
        return delay

    async def _lost(self, where: str, what: str) -> Any:
        if self.loss_mode == "hang":
            await asyncio.get_running_loop().create_future()
        raise ConnectionFailed(f"{where}: the {what} was lost on the way")

    async def send(self, instance: ServiceInstance, method: str, body: bytes) -> Any:
        request = ServiceRequest(instance, method, json.loads(body))
        where = f"{instance.service_name}/{instance.instance_id} POST /{method}"
        stats = self.stats
        stats.sent += 1
        try:
            delay = self._delay(request)
            if delay:
                await asyncio.sleep(delay)
            if self.loss and self.rng.random() < self.loss:
                stats.lost_requests += 1
                return await self._lost(where, "request")

            stats.delivered += 1
            status, answer = await self._handle(request)

            if self.response_loss and self.rng.random() < self.response_loss:
                stats.lost_responses += 1
                return await self._lost(where, "answer")
            stats.answered += 1
        except asyncio.CancelledError:
            stats.cancelled += 1
            raise
        return _decode(instance, method, status, answer)

    async def _handle(self, request: ServiceRequest) -> tuple[int, str]:
        try:
            answer = self.handler(request)
            if inspect.isawaitable(answer):
                answer = await answer
        except CallError:
            raise
        except Exception as exc:
            logger.debug("in-memory handler for %s raised %r", request.url, exc)
            return 500, f"handler raised {type(exc).__name__}: {exc}"
        if isinstance(answer, InMemoryResponse):
            status, data = answer.status, answer.body
        else:
            status, data = 200, answer
        if status >= 400 and isinstance(data, str):
            return status, data
        return status, encode_body(data).decode()


__all__ = [
    "AiohttpTransport",
    "InMemoryResponse",
    "InMemoryTransport",
    "ServiceRequest",
    "Transport",
    "TransportStats",
    "check_method",
    "encode_body",
]
