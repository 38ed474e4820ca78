"""Transports: real HTTP to aiohttp servers on 127.0.0.1, and the in-memory one.

Both transports are held to one contract: ``POST /{method}`` with a JSON body,
the decoded JSON back, errors by kind. The real-HTTP tests run on the
virtual-time loop with the servers in the same loop, so a hanging server is
waited out in virtual seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from impl.endpoints import ServiceEndpoint, ServiceInstance
from impl.errors import (
    CallTimeoutError,
    ConfigurationError,
    ConnectionFailed,
    RemoteError,
)
from impl.transport import (
    AiohttpTransport,
    InMemoryResponse,
    InMemoryTransport,
    ServiceRequest,
    Transport,
)
from proofs.harness.vtime import run


def instance(port: int = 8001, name: str = "users", iid: str = "users-1") -> Any:
    return ServiceInstance(name, iid, ServiceEndpoint("127.0.0.1", port))


@asynccontextmanager
async def http_instance(
    routes: Mapping[str, Callable[[web.Request], Awaitable[web.StreamResponse]]],
) -> AsyncIterator[ServiceInstance]:
    """An aiohttp server on 127.0.0.1, port 0, with ``POST /{name}`` routes."""
    app = web.Application()
    for name, handler in routes.items():
        app.router.add_post(f"/{name}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield instance(port)
    finally:
        await runner.cleanup()


async def echo(request: web.Request) -> web.Response:
    return web.json_response({"got": await request.json(), "path": request.path})


async def fail(request: web.Request) -> web.Response:
    return web.Response(status=500, text="database on fire")


async def not_json(request: web.Request) -> web.Response:
    return web.Response(text="<html>hello</html>")


async def empty(request: web.Request) -> web.Response:
    return web.Response(status=204)


async def hang(request: web.Request) -> web.Response:
    await asyncio.sleep(3600)
    return web.json_response({})


async def reset(request: web.Request) -> web.Response:
    assert request.transport is not None
    request.transport.abort()
    await asyncio.sleep(0)
    return web.json_response({})


ROUTES = {
    "echo": echo,
    "fail": fail,
    "not_json": not_json,
    "empty": empty,
    "hang": hang,
    "reset": reset,
}


# Real HTTP --------------------------------------------------------------------


def test_post_sends_json_and_returns_the_decoded_answer() -> None:
    async def main() -> Any:
        async with http_instance(ROUTES) as inst, AiohttpTransport() as t:
            return await t.post(inst, "echo", {"id": 123, "tags": ["a"]})

    assert run(main()) == {"got": {"id": 123, "tags": ["a"]}, "path": "/echo"}


def test_error_status_is_a_remote_error_with_the_status() -> None:
    async def main() -> RemoteError:
        async with http_instance(ROUTES) as inst, AiohttpTransport() as t:
            with pytest.raises(RemoteError) as info:
                await t.post(inst, "fail", {})
            return info.value

    error = run(main())
    assert error.status == 500
    assert "database on fire" in error.body
    assert "users/users-1 POST /fail" in str(error)


def test_answer_that_is_not_json_is_a_remote_error() -> None:
    async def main() -> None:
        async with http_instance(ROUTES) as inst, AiohttpTransport() as t:
            with pytest.raises(RemoteError, match="not JSON"):
                await t.post(inst, "not_json")
            assert await t.post(inst, "empty") is None

    run(main())


def test_reset_connection_is_connection_failed() -> None:
    async def main() -> None:
        async with http_instance(ROUTES) as inst, AiohttpTransport() as t:
            with pytest.raises(ConnectionFailed, match="connection failed"):
                await t.post(inst, "reset", {})
            # The pool recovers: the next call on the same transport works.
            assert (await t.post(inst, "echo", 1))["got"] == 1

    run(main())


def test_refused_connection_is_connection_failed() -> None:
    async def main() -> None:
        async with http_instance(ROUTES) as inst:
            port = inst.endpoint.port
        async with AiohttpTransport() as t:
            with pytest.raises(ConnectionFailed):
                await t.post(instance(port), "echo", {})

    run(main())


def test_transport_timeout_is_read_in_loop_time() -> None:
    async def main() -> tuple[float, float | None]:
        loop = asyncio.get_running_loop()
        async with http_instance(ROUTES) as inst, AiohttpTransport(timeout=30) as t:
            start = loop.time()
            with pytest.raises(CallTimeoutError) as info:
                await t.post(inst, "hang", {})
            return loop.time() - start, info.value.timeout

    waited, timeout = run(main())
    assert timeout == 30
    assert 30 <= waited < 31


def test_closing_releases_the_session() -> None:
    async def main() -> None:
        async with http_instance(ROUTES) as inst:
            t = AiohttpTransport()
            await t.post(inst, "echo", {})
            session = t.session
            assert session is not None and not session.closed
            await t.aclose()
            assert session.closed and t.session is None

    run(main())


@pytest.mark.parametrize(
    "method", ["", "a/b", "../admin", "x y", "ünï", "a" * 129, None, "..."]
)
def test_method_must_be_one_path_segment(method: Any) -> None:
    async def main() -> None:
        t = InMemoryTransport(lambda r: None)
        with pytest.raises(ConfigurationError, match="method"):
            await t.post(instance(), method)

    run(main())


def test_data_must_be_json() -> None:
    async def main() -> None:
        t = InMemoryTransport(lambda r: None)
        with pytest.raises(ConfigurationError, match="data: must be JSON"):
            await t.post(instance(), "m", {"when": object()})
        with pytest.raises(ConfigurationError, match="data"):
            await t.post(instance(), "m", float("nan"))

    run(main())


@pytest.mark.parametrize(
    "kwargs",
    [{"limit": 0}, {"limit": True}, {"timeout": 0}, {"timeout": -1.0}],
)
def test_aiohttp_transport_refuses_bad_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="AiohttpTransport"):
        AiohttpTransport(**kwargs)


# In memory ---------------------------------------------------------------------


def test_in_memory_round_trip_copies_through_json() -> None:
    seen: list[ServiceRequest] = []
    data = {"id": 1, "nested": {"k": [1, 2]}}

    def handler(request: ServiceRequest) -> Any:
        seen.append(request)
        request.body["nested"]["k"].append(3)  # cannot reach the caller's data
        return {"user": request.body["id"], "at": request.instance_id}

    async def main() -> Any:
        return await InMemoryTransport(handler).post(instance(), "get_user", data)

    assert run(main()) == {"user": 1, "at": "users-1"}
    assert data == {"id": 1, "nested": {"k": [1, 2]}}
    assert seen[0].url == "http://127.0.0.1:8001/get_user"
    assert seen[0].method == "get_user"


def test_in_memory_statuses_and_crashes() -> None:
    def handler(request: ServiceRequest) -> Any:
        if request.method == "missing":
            return InMemoryResponse(404, "no such user")
        if request.method == "crash":
            raise KeyError("boom")
        if request.method == "reset":
            raise ConnectionFailed("reset by peer")
        return InMemoryResponse(201, {"created": True})

    async def main() -> None:
        t = InMemoryTransport(handler)
        assert await t.post(instance(), "make") == {"created": True}
        with pytest.raises(RemoteError) as info:
            await t.post(instance(), "missing")
        assert (info.value.status, info.value.body) == (404, "no such user")
        with pytest.raises(RemoteError, match="handler raised KeyError") as crash:
            await t.post(instance(), "crash")
        assert crash.value.status == 500
        with pytest.raises(ConnectionFailed, match="reset by peer"):
            await t.post(instance(), "reset")

    run(main())


def test_in_memory_async_handler_and_latency_in_loop_time() -> None:
    async def handler(request: ServiceRequest) -> Any:
        await asyncio.sleep(0.5)  # processing time
        return request.body

    async def main() -> tuple[Any, float]:
        loop = asyncio.get_running_loop()
        t = InMemoryTransport(handler, latency=lambda r: 0.25 * r.body)
        start = loop.time()
        answer = await t.post(instance(), "m", 2)
        return answer, loop.time() - start

    assert run(main()) == (2, 1.0)


def test_in_memory_losses_follow_the_seed() -> None:
    async def trace(seed: int) -> list[str]:
        t = InMemoryTransport(lambda r: "ok", loss=0.3, response_loss=0.2, seed=seed)
        out = []
        for _ in range(200):
            try:
                out.append(await t.post(instance(), "m"))
            except ConnectionFailed as exc:
                out.append("request" if "request" in str(exc) else "answer")
        s = t.stats
        assert s.sent == 200
        assert s.lost_requests + s.delivered == s.sent
        assert s.answered + s.lost_responses == s.delivered
        assert out.count("request") == s.lost_requests
        assert out.count("answer") == s.lost_responses
        return out

    first = run(trace(11))
    assert first == run(trace(11))
    assert first != run(trace(12))
    # Roughly the stated rates (binomial, 200 draws; generous bounds).
    assert 30 < first.count("request") < 95
    assert 10 < first.count("answer") < 60


def test_response_loss_runs_the_handler_anyway() -> None:
    effects: list[int] = []

    def handler(request: ServiceRequest) -> Any:
        effects.append(request.body)
        return "done"

    async def main() -> None:
        t = InMemoryTransport(handler, response_loss=1.0)
        with pytest.raises(ConnectionFailed, match="answer was lost"):
            await t.post(instance(), "pay", 7)

    run(main())
    assert effects == [7]


def test_hang_mode_waits_until_the_caller_gives_up() -> None:
    async def main() -> tuple[float, Any]:
        loop = asyncio.get_running_loop()
        t = InMemoryTransport(lambda r: "ok", latency=0.1, loss=1.0, loss_mode="hang")
        start = loop.time()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(t.post(instance(), "m"), timeout=5)
        return loop.time() - start, t.stats

    waited, stats = run(main())
    assert waited == 5
    assert (stats.sent, stats.lost_requests, stats.cancelled) == (1, 1, 1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"loss": 1.5},
        {"loss": -0.1},
        {"response_loss": "x"},
        {"latency": -1},
        {"latency": "slow"},
        {"loss_mode": "drop"},
    ],
)
def test_in_memory_transport_refuses_bad_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="InMemoryTransport"):
        InMemoryTransport(lambda r: None, **kwargs)


def test_latency_function_must_return_a_delay() -> None:
    async def main() -> None:
        t = InMemoryTransport(lambda r: None, latency=lambda r: -2.0)
        with pytest.raises(ConfigurationError, match="latency"):
            await t.post(instance(), "m")

    run(main())


def test_a_transport_must_implement_send() -> None:
    async def main() -> None:
        with pytest.raises(NotImplementedError):
            await Transport().post(instance(), "m")

    run(main())
