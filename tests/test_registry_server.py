"""The registry over real HTTP: routes, bad input, tokens, concurrency.

Each test starts a real server on 127.0.0.1 (port 0) and sends raw requests
with aiohttp, so bodies can be as wrong as a careless or hostile client would
make them. After every refusal the test checks three things: a 4xx status, a
JSON body naming the field and saying why, and a registry exactly as before.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from impl.errors import ConfigurationError
from impl.registry_server import MAX_BODY_BYTES, REVISION_HEADER, RegistryServer

GOOD: dict[str, Any] = {
    "instance_id": "u1",
    "endpoint": {"host": "127.0.0.1", "port": 8001},
}

Scenario = Callable[[RegistryServer, aiohttp.ClientSession], Awaitable[None]]


def serve(scenario: Scenario, *, token: str | None = None) -> None:
    async def main() -> None:
        async with (
            RegistryServer(token=token) as server,
            aiohttp.ClientSession(base_url=server.url) as http,
        ):
            await scenario(server, http)

    asyncio.run(main())


async def state(http: aiohttp.ClientSession) -> tuple[Any, ...]:
    """Everything a client can observe: names, every service's instances."""
    async with http.get("/services") as response:
        names = await response.json()
        revision = response.headers[REVISION_HEADER]
    services = []
    for name in names:
        async with http.get(f"/services/{name}") as response:
            services.append(await response.json())
    return revision, names, services


async def refused(
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    *,
    status: int,
    field: str,
    **kwargs: Any,
) -> str:
    before = await state(http)
    async with http.request(method, path, **kwargs) as response:
        assert response.status == status, await response.text()
        assert response.content_type == "application/json"
        body = await response.json()
    assert body["field"] == field, body
    assert body["error"].startswith(f"{field}:"), body
    assert len(body["error"]) > len(field) + 10, body
    assert await state(http) == before
    async with http.get("/health") as response:
        assert response.status == 200  # still serving
    message: str = body["error"]
    return message


def test_register_discover_deregister_round_trip() -> None:
    async def scenario(server: RegistryServer, http: aiohttp.ClientSession) -> None:
        body = {**GOOD, "endpoint": {**GOOD["endpoint"], "metadata": {"w": [1]}}}
        async with http.post("/services/users/instances", json=body) as response:
            assert response.status == 201
            assert response.headers[REVISION_HEADER] == "1"
        async with http.get("/services") as response:
            assert await response.json() == ["users"]
        async with http.get("/services/users") as response:
            [got] = await response.json()
        assert got["instance_id"] == "u1"
        assert got["endpoint"]["metadata"] == {"w": [1]}
        async with http.put(
            "/services/users/instances/u1/status", json={"status": "unhealthy"}
        ) as response:
            assert response.status == 200
        async with http.get("/services/users?healthy=true") as response:
            assert await response.json() == []
        async with http.delete("/services/users/instances/u1") as response:
            assert response.status == 200
            assert response.headers[REVISION_HEADER] == "3"
        assert await state(http) == ("3", [], [])

    serve(scenario)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"[1, 2]", "body"),
        (b"\xff\xfe", "body"),
        (json.dumps({"endpoint": GOOD["endpoint"]}).encode(), "instance_id"),
        (json.dumps({"instance_id": "u1"}).encode(), "endpoint"),
        (json.dumps({**GOOD, "instance_id": 7}).encode(), "instance_id"),
        (json.dumps({**GOOD, "instance_id": "a b"}).encode(), "instance_id"),
        (json.dumps({**GOOD, "instance_id": "x" * 129}).encode(), "instance_id"),
        (json.dumps({**GOOD, "endpoint": "127.0.0.1:80"}).encode(), "endpoint"),
        (json.dumps({**GOOD, "endpoint": {"host": "h"}}).encode(), "endpoint.port"),
        (json.dumps({**GOOD, "endpoint": {"port": 80}}).encode(), "endpoint.host"),
        (
            json.dumps({**GOOD, "endpoint": {"host": "127.0.0.1", "port": 0}}).encode(),
            "endpoint.port",
        ),
        (
            json.dumps(
                {**GOOD, "endpoint": {"host": "127.0.0.1", "port": 70000}}
            ).encode(),
            "endpoint.port",
        ),
        (
            json.dumps(
                {**GOOD, "endpoint": {"host": "127.0.0.1", "port": "8001"}}
            ).encode(),
            "endpoint.port",
        ),
        (
            json.dumps(
                {**GOOD, "endpoint": {"host": "127.0.0.1", "port": True}}
            ).encode(),
            "endpoint.port",
        ),
        (
            json.dumps({**GOOD, "endpoint": {"host": "-bad-", "port": 80}}).encode(),
            "endpoint.host",
        ),
        (
            json.dumps(
                {**GOOD, "endpoint": {**GOOD["endpoint"], "protocol": "gopher"}}
            ).encode(),
            "endpoint.protocol",
        ),
        (
            json.dumps(
                {
                    **GOOD,
                    "endpoint": {
                        **GOOD["endpoint"],
                        "health_check_url": "http://10.0.0.1:80/health",
                    },
                }
            ).encode(),
            "endpoint.health_check_url",
        ),
        (
            json.dumps(
                {
                    **GOOD,
                    "endpoint": {**GOOD["endpoint"], "metadata": {"x": "y" * 5000}},
                }
            ).encode(),
            "endpoint.metadata",
        ),
        (
            json.dumps({**GOOD, "endpoint": {**GOOD["endpoint"], "extra": 1}}).encode(),
            "endpoint.extra",
        ),
        (json.dumps({**GOOD, "ttl": 0}).encode(), "ttl"),
        (json.dumps({**GOOD, "ttl": 10**9}).encode(), "ttl"),
        (json.dumps({**GOOD, "ttl": "30"}).encode(), "ttl"),
        (json.dumps({**GOOD, "status": "sick"}).encode(), "status"),
        (json.dumps({**GOOD, "load": -1}).encode(), "load"),
        (json.dumps({**GOOD, "colour": "red"}).encode(), "colour"),
        (json.dumps({**GOOD, "service_name": "orders"}).encode(), "service_name"),
    ],
)
def test_bad_registration_is_refused_and_changes_nothing(
    body: bytes, field: str
) -> None:
    async def scenario(server: RegistryServer, http: aiohttp.ClientSession) -> None:
        # Something registered first, so "unchanged" is not just "empty".
        async with http.post(
            "/services/users/instances", json={**GOOD, "instance_id": "keep"}
        ) as response:
            assert response.status == 201
        await refused(
            http,
            "POST",
            "/services/users/instances",
            status=400,
            field=field,
            data=body,
            headers={"Content-Type": "application/json"},
        )

    serve(scenario)


def test_ten_megabyte_body_is_refused_before_it_is_read() -> None:
    async def scenario(server: RegistryServer, http: aiohttp.ClientSession) -> None:
        huge = b'{"instance_id": "u1", "pad": "' + b"x" * (10 * 1024 * 1024) + b'"}'
        before = await state(http)
        try:
            async with http.post("/services/users/instances", data=huge) as response:
                assert response.status == 413
                body = await response.json()
                assert body["field"] == "body"
                assert str(MAX_BODY_BYTES) in body["error"]
        except aiohttp.ClientOSError:  # pragma: no cover - timing dependent
            # The server may close the connection while the client is still
            # sending; the refusal is then the closed connection itself.
            pass
        assert await state(http) == before
        await refused(
            http,
            "POST",
            "/services/users/instances",
            status=413,
            field="body",
            data=b"x" * (MAX_BODY_BYTES + 1),
        )

    serve(scenario)


def test_chunked_body_without_length_is_cut_off_at_the_limit() -> None:
    async def chunks() -> Any:
        yield b'{"instance_id": "u1", "pad": "'
        for _ in range(40):
            yield b"x" * 4096
        yield b'"}'

    async def scenario(server: RegistryServer, http: aiohttp.ClientSession) -> None:
        await refused(
            http,
            "POST",
            "/services/users/instances",
            status=413,
            field="body",
            data=chunks(),
        )

    serve(scenario)


def test_unknown_service_missing_instance_and_unknown_routes() -> None:
    async def scenario(server: RegistryServer, http: aiohttp.ClientSession) -> None:
        await refused(http, "GET", "/services/nobody", status=404, field="service_name")
        await refused(
            http, "GET", "/services/bad%20name", status=400, field="service_name"
        )
        await refused(
            http,
            "DELETE",
            "/services/users/instances/u9",
            status=404,
            field="instance_id",
        )
        await refused(
            http,
            "POST",
            "/services/users/instances/u9/heartbeat",
            status=404,
            field="instance_id",
        )
        await refused(
            http,
            "PUT",
            "/services/users/instances/u9/status",
            status=404,
            field="instance_id",
            json={"status": "healthy"},
        )
        await refused(
            http,
            "PUT",
            "/services/users/instances/u9/status",
            status=400,
            field="status",
            json={"status": 1},
        )
        await refused(
            http, "GET", "/services/users?healthy=maybe", status=400, field="healthy"
        )
        await refused(http, "GET", "/nowhere", status=404, field="path")
        await refused(http, "PATCH", "/services", status=405, field="method")

    serve(scenario)


def test_duplicate_registration_is_409_and_keeps_the_first() -> None:
    async def scenario(server: RegistryServer, http: aiohttp.ClientSession) -> None:
        async with http.post("/services/users/instances", json=GOOD) as response:
            assert response.status == 201
        other = {**GOOD, "endpoint": {"host": "127.0.0.1", "port": 9999}}
        message = await refused(
            http,
            "POST",
            "/services/users/instances",
            status=409,
            field="instance_id",
            json=other,
        )
        assert "already registered" in message
        async with http.get("/services/users") as response:
            [got] = await response.json()
        assert got["endpoint"]["port"] == 8001

    serve(scenario)


def test_concurrent_registrations_of_one_id_exactly_one_wins() -> None:
    async def scenario(server: RegistryServer, http: aiohttp.ClientSession) -> None:
        async def attempt(port: int) -> int:
            body = {**GOOD, "endpoint": {"host": "127.0.0.1", "port": port}}
            async with http.post("/services/users/instances", json=body) as response:
                return response.status

        statuses = await asyncio.gather(*(attempt(8000 + k) for k in range(16)))
        assert sorted(statuses) == [201] + [409] * 15
        _, names, [instances] = await state(http)
        assert names == ["users"] and len(instances) == 1
        assert server.registry.revision == 1

    serve(scenario)


def test_token_guards_every_changing_route_and_only_those() -> None:
    async def scenario(server: RegistryServer, http: aiohttp.ClientSession) -> None:
        for method, path, body in [
            ("POST", "/services/users/instances", GOOD),
            ("DELETE", "/services/users/instances/u1", None),
            ("POST", "/services/users/instances/u1/heartbeat", None),
            ("PUT", "/services/users/instances/u1/status", {"status": "healthy"}),
        ]:
            for headers in (
                {},
                {"Authorization": "Bearer wrong"},
                {"Authorization": "Basic s3cret"},
            ):
                await refused(
                    http,
                    method,
                    path,
                    status=401,
                    field="authorization",
                    json=body,
                    headers=headers,
                )
        async with http.post(
            "/services/users/instances",
            json=GOOD,
            headers={"Authorization": "Bearer s3cret"},
        ) as response:
            assert response.status == 201
        async with http.get("/services/users") as response:
            assert response.status == 200  # reads need no token

    serve(scenario, token="s3cret")


@pytest.mark.parametrize(
    ("token", "why"),
    [
        ("", "non-empty"),
        ("s3cret\n", "U+000A) is a control character"),
        ("s3 cret", "U+0020) is whitespace"),
        ("s3cr\tet", "U+0009) is a control character"),
        ("s3crét", "U+00E9) is not visible ASCII"),
    ],
)
def test_a_token_no_header_could_carry_is_refused(token: str, why: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(why)) as caught:
        RegistryServer(token=token)
    assert caught.value.field == "token"


def test_a_token_of_every_visible_ascii_character_authorises() -> None:
    token = "".join(chr(c) for c in range(0x21, 0x7F))

    async def scenario(server: RegistryServer, http: aiohttp.ClientSession) -> None:
        async with http.post(
            "/services/users/instances",
            json=GOOD,
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            assert response.status == 201

    serve(scenario, token=token)


def test_server_keeps_serving_after_a_handler_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def scenario(server: RegistryServer, http: aiohttp.ClientSession) -> None:
        async def broken(name: str) -> tuple[()]:
            raise RuntimeError("injected fault")

        with monkeypatch.context() as patch:
            patch.setattr(server.registry, "get_instances", broken)
            async with http.get("/services/users") as response:
                assert response.status == 500
                body = await response.json()
                assert body["field"] == "request"
        async with http.post("/services/users/instances", json=GOOD) as response:
            assert response.status == 201

    serve(scenario)


def test_command_line_serves_until_interrupted() -> None:
    command = [sys.executable, "-m", "proofs", "registry", "serve", "--port", "0"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        assert match, line

        async def ask() -> tuple[int, Any]:
            async with (
                aiohttp.ClientSession() as http,
                http.get(match.group(1) + "/services") as response,
            ):
                return response.status, await response.json()

        assert asyncio.run(ask()) == (200, [])
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_command_line_refuses_a_port_out_of_range() -> None:
    command = [sys.executable, "-m", "proofs", "registry", "serve", "--port", "70000"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--port" in done.stderr and "Traceback" not in done.stderr


def test_answers_of_a_service_that_is_gone_are_not_kept() -> None:
    from impl.registry_server import _ENCODED

    async def scenario(server: RegistryServer, http: aiohttp.ClientSession) -> None:
        async with http.post("/services/users/instances", json=GOOD) as response:
            assert response.status == 201
        for path in ("/services/users", "/services/users?healthy=true"):
            async with http.get(path) as response:
                assert response.status == 200
        cache = server._app[_ENCODED]
        assert {key[0] for key in cache} == {"users"}
        async with http.delete("/services/users/instances/u1") as response:
            assert response.status == 200
        async with http.get("/services/users") as response:
            assert response.status == 404
        assert not cache

    serve(scenario)
