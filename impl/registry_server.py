"""The registry as an HTTP service (aiohttp).

Routes (every body is JSON; every answer carries the registry's revision in
the ``X-Registry-Revision`` header):

``GET /services``
    The names of the services with at least one live instance, as a list.
``GET /services/{name}[?healthy=true]``
    The service's live instances as a list of instance objects, or only the
    healthy ones. A service with no live instance is ``404``.
``POST /services/{name}/instances``
    Register: ``{"instance_id", "endpoint": {"host", "port", "protocol",
    "health_check_url", "metadata"}, "status", "load", "ttl"}``; only
    ``instance_id`` and the endpoint's ``host`` and ``port`` are required.
    ``201`` with the stored instance, or ``409`` if the id is taken (and
    nothing changes).
``DELETE /services/{name}/instances/{id}``
    Deregister: ``200``, or ``404`` if no such instance.
``POST /services/{name}/instances/{id}/heartbeat``
    Renew the lease: ``200`` with the lease (or ``null``), or ``404``.
``PUT /services/{name}/instances/{id}/status``
    ``{"status": "healthy" | "unhealthy"}``: ``200``, or ``404``.
``GET /health``
    ``200`` while the server is up.

With a token configured, every route that changes state requires the header
``Authorization: Bearer <token>`` and answers ``401`` without it.

Input is validated before anything changes, so a refused request leaves the
registry exactly as it was. Every refusal is a 4xx whose body is ``{"error":
<what was wrong and what to do>, "field": <the offending field, dotted>}``;
bodies above :data:`MAX_BODY_BYTES` are refused with ``413`` before they are
read. The server answers errors of its own with ``500`` and the same shape,
and keeps serving.

Start it from the command line with ``mstheory registry serve --host
127.0.0.1 --port 8500`` (add ``--token`` to guard the changing routes), or
in code with :class:`RegistryServer`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from impl.endpoints import (
    STATUSES,
    ServiceEndpoint,
    ServiceInstance,
    check_identifier,
)
from impl.errors import ConfigurationError, RegistrationRefused
from impl.registry import ServiceRegistry, check_ttl

logger = logging.getLogger("impl")

#: Largest request body accepted, in bytes.
MAX_BODY_BYTES = 64 * 1024

REVISION_HEADER = "X-Registry-Revision"

_REGISTRY: web.AppKey[ServiceRegistry] = web.AppKey("registry", ServiceRegistry)
_TOKEN: web.AppKey[str] = web.AppKey("token", str)
_ENCODED: web.AppKey[dict[tuple[str, bool], tuple[object, bytes]]] = web.AppKey(
    "encoded", dict
)

_INSTANCE_FIELDS = frozenset(
    {"service_name", "instance_id", "endpoint", "status", "load", "ttl"}
)
_ENDPOINT_FIELDS = frozenset(
    {"host", "port", "protocol", "health_check_url", "metadata"}
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Refusal(Exception):
    """A request the server refuses: status, offending field, explanation."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.message = message


def _error_response(
    status: int, field: str, message: str, registry: ServiceRegistry
) -> web.Response:
    if not message.startswith(f"{field}:"):
        message = f"{field}: {message}"
    return web.json_response(
        {"error": message, "field": field},
        status=status,
        headers={REVISION_HEADER: str(registry.revision)},
    )


# Middleware: size limit, authorisation, errors as JSON -----------------------


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    registry = request.app[_REGISTRY]
    try:
        length = request.content_length
        if length is not None and length > MAX_BODY_BYTES:
            raise Refusal(
                413,
                "body",
                f"is {length} bytes, more than the limit of {MAX_BODY_BYTES}; "
                "send a smaller body",
            )
        token = request.app[_TOKEN]
        if token and request.method not in ("GET", "HEAD", "OPTIONS"):
            _authorise(request, token)
        response = await handler(request)
    except Refusal as refusal:
        response = _error_response(
            refusal.status, refusal.field, refusal.message, registry
        )
        if refusal.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="registry"'
        return response
    except web.HTTPException as exc:
        # aiohttp's own refusals: unknown route, wrong method, body too large.
        if exc.status < 400:
            raise
        field = {404: "path", 405: "method", 413: "body"}.get(exc.status, "request")
        return _error_response(
            exc.status,
            field,
            f"{exc.reason} ({request.method} {request.path})",
            registry,
        )
    except Exception:
        logger.exception(
            "registry server failed on %s %s", request.method, request.path
        )
        return _error_response(
            500,
            "request",
            "the registry failed on this request; it still runs "
            "and its state is unchanged by the failure",
            registry,
        )
    response.headers[REVISION_HEADER] = str(registry.revision)
    return response


def _authorise(request: web.Request, token: str) -> None:
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        value.strip().encode(), token.encode()
    ):
        raise Refusal(
            401,
            "authorization",
            "this route changes the registry and needs the header "
            "'Authorization: Bearer <token>' with the server's token",
        )


# Input validation -------------------------------------------------------------


async def _json_object(request: web.Request) -> Mapping[str, Any]:
    raw = await request.read()
    if len(raw) > MAX_BODY_BYTES:
        raise Refusal(413, "body", f"is more than the limit of {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Refusal(400, "body", f"is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise Refusal(400, "body", f"must be a JSON object, got {type(data).__name__}")
    return data


def _identifier(value: object, field: str) -> str:
    try:
        return check_identifier(value, field)
    except ConfigurationError as exc:
        raise Refusal(400, field, str(exc)) from None


def _number(value: object, field: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise Refusal(
            400, field, f"{field}: must be a finite number >= 0, got {value!r}"
        )
    return float(value)


def parse_registration(
    service_name: str, data: Mapping[str, Any]
) -> tuple[ServiceInstance, float | None]:
    """The instance and lease a registration body asks for, or a Refusal."""
    unknown = sorted(set(data) - _INSTANCE_FIELDS)
    if unknown:
        raise Refusal(
            400,
            unknown[0],
            f"unknown field(s) {', '.join(map(repr, unknown))}; allowed: "
            + ", ".join(sorted(_INSTANCE_FIELDS)),
        )
    if "service_name" in data and data["service_name"] != service_name:
        raise Refusal(
            400,
            "service_name",
            f"body names service {data['service_name']!r} but the path names "
            f"{service_name!r}; leave it out or make them agree",
        )
    if "instance_id" not in data:
        raise Refusal(400, "instance_id", "instance_id: is required")
    instance_id = _identifier(data["instance_id"], "instance_id")
    endpoint = _endpoint(data.get("endpoint"))
    status = data.get("status", "healthy")
    if status not in STATUSES:
        raise Refusal(
            400,
            "status",
            f"status: must be one of {', '.join(STATUSES)}, got {status!r}",
        )
    load = _number(data.get("load", 0.0), "load")
    try:
        ttl = check_ttl(data.get("ttl"))
        instance = ServiceInstance(
            service_name, instance_id, endpoint, status=status, load=load
        )
    except (ConfigurationError, RegistrationRefused) as exc:
        raise Refusal(400, exc.field or "instance", str(exc)) from None
    return instance, ttl


def _endpoint(data: object) -> ServiceEndpoint:
    if data is None:
        raise Refusal(400, "endpoint", "endpoint: is required")
    if not isinstance(data, dict):
        raise Refusal(
            400, "endpoint", f"endpoint: must be an object, got {type(data).__name__}"
        )
    unknown = sorted(set(data) - _ENDPOINT_FIELDS)
    if unknown:
        raise Refusal(
            400,
            f"endpoint.{unknown[0]}",
            f"unknown endpoint field(s) {', '.join(map(repr, unknown))}; allowed: "
            + ", ".join(sorted(_ENDPOINT_FIELDS)),
        )
    for required in ("host", "port"):
        if required not in data:
            raise Refusal(400, f"endpoint.{required}", "is required")
    try:
        return ServiceEndpoint(
            host=data["host"],
            port=data["port"],
            protocol=data.get("protocol", "http"),
            health_check_url=data.get("health_check_url"),
            metadata=data.get("metadata") or {},
        )
    except ConfigurationError as exc:
        field = exc.field or "endpoint"
        message = str(exc).removeprefix(f"{field}: ")
        raise Refusal(400, f"endpoint.{field}", message) from None


def _healthy_filter(request: web.Request) -> bool:
    value = request.query.get("healthy")
    if value is None:
        return False
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise Refusal(400, "healthy", f"healthy: must be true or false, got {value!r}")


def _path_key(request: web.Request) -> tuple[str, str]:
    return (
        _identifier(request.match_info["name"], "service_name"),
        _identifier(request.match_info["instance_id"], "instance_id"),
    )


# Handlers -----------------------------------------------------------------


async def _list_services(request: web.Request) -> web.Response:
    names = await request.app[_REGISTRY].list_services()
    return web.json_response(list(names))


async def _get_service(request: web.Request) -> web.Response:
    name = _identifier(request.match_info["name"], "service_name")
    healthy = _healthy_filter(request)
    registry = request.app[_REGISTRY]
    if healthy:
        snapshot = await registry.get_healthy_instances(name)
    else:
        snapshot = await registry.get_instances(name)
    encoded = request.app[_ENCODED]
    if not snapshot and not await registry.get_instances(name):
        # Forget the service's encoded answers, so the cache holds only
        # services that are registered.
        encoded.pop((name, True), None)
        encoded.pop((name, False), None)
        raise Refusal(
            404,
            "service_name",
            f"no live instance of service {name!r} is registered; "
            "GET /services lists the known services",
        )
    # The encoded body is kept per snapshot: an unchanged service is not
    # encoded again.
    cached = encoded.get((name, healthy))
    if cached is None or cached[0] is not snapshot:
        body = json.dumps([i.to_dict() for i in snapshot]).encode()
        encoded[(name, healthy)] = (snapshot, body)
    else:
        body = cached[1]
    return web.Response(body=body, content_type="application/json")


async def _register(request: web.Request) -> web.Response:
    name = _identifier(request.match_info["name"], "service_name")
    instance, ttl = parse_registration(name, await _json_object(request))
    registry = request.app[_REGISTRY]
    if not await registry.register(instance, ttl):
        raise Refusal(
            409,
            "instance_id",
            f"instance {instance.instance_id!r} of service {name!r} is already "
            "registered; deregister it first, or choose another id",
        )
    return web.json_response(
        {"registered": True, "instance": instance.to_dict(), "ttl": ttl}, status=201
    )


async def _deregister(request: web.Request) -> web.Response:
    name, instance_id = _path_key(request)
    if not await request.app[_REGISTRY].deregister(name, instance_id):
        raise _missing(name, instance_id)
    return web.json_response({"deregistered": True})


async def _heartbeat(request: web.Request) -> web.Response:
    name, instance_id = _path_key(request)
    registry = request.app[_REGISTRY]
    if not await registry.heartbeat(name, instance_id):
        raise _missing(name, instance_id)
    lease = registry.lease(name, instance_id)
    return web.json_response(
        {
            "renewed": lease is not None,
            "lease": None
            if lease is None
            else {"ttl": lease.ttl, "deadline": lease.deadline},
        }
    )


async def _set_status(request: web.Request) -> web.Response:
    name, instance_id = _path_key(request)
    data = await _json_object(request)
    unknown = sorted(set(data) - {"status"})
    if unknown:
        raise Refusal(400, unknown[0], "only 'status' may be given")
    status = data.get("status")
    if status not in STATUSES:
        raise Refusal(
            400,
            "status",
            f"status: must be one of {', '.join(STATUSES)}, got {status!r}",
        )
    if not await request.app[_REGISTRY].set_status(name, instance_id, status):
        raise _missing(name, instance_id)
    return web.json_response({"status": status})


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "healthy"})


def _missing(name: str, instance_id: str) -> Refusal:
    return Refusal(
        404,
        "instance_id",
        f"no live instance {instance_id!r} of service {name!r}; it was never "
        "registered, was deregistered, or its lease ran out",
    )


def check_token(token: object) -> None:
    """Refuse a bearer token that no client could send in a header.

    The header ``Authorization: Bearer <token>`` carries visible ASCII only:
    whitespace would be trimmed or split, a control character (a newline, say)
    ends or corrupts the header, and other characters are not reliably
    encoded. Raises :class:`ConfigurationError` naming the offending character.
    """
    if not isinstance(token, str) or not token:
        raise ConfigurationError(
            "token: must be a non-empty string, or None for no token",
            field="token",
        )
    for position, char in enumerate(token):
        if not "!" <= char <= "~":
            if not char.isprintable():
                kind = "a control character"
            elif char.isspace():
                kind = "whitespace"
            else:
                kind = "not visible ASCII"
            raise ConfigurationError(
                f"token: character {position} (U+{ord(char):04X}) is {kind}; an "
                "'Authorization: Bearer' header cannot carry it, so no client "
                "could ever authorise; use visible ASCII characters only",
                field="token",
            )


def create_app(
    registry: ServiceRegistry | None = None, *, token: str | None = None
) -> web.Application:
    """The aiohttp application serving ``registry`` (a new one by default)."""
    if token is not None:
        check_token(token)
    app = web.Application(middlewares=[_guard], client_max_size=MAX_BODY_BYTES)
    app[_REGISTRY] = registry if registry is not None else ServiceRegistry()
    app[_TOKEN] = token or ""
    app[_ENCODED] = {}
    app.router.add_get("/health", _health)
    app.router.add_get("/services", _list_services)
    app.router.add_get("/services/{name}", _get_service)
    app.router.add_post("/services/{name}/instances", _register)
    app.router.add_delete("/services/{name}/instances/{instance_id}", _deregister)
    app.router.add_post(
        "/services/{name}/instances/{instance_id}/heartbeat", _heartbeat
    )
    app.router.add_put("/services/{name}/instances/{instance_id}/status", _set_status)
    return app


class RegistryServer:
    """A running registry service on ``host``:``port`` (port 0: any free one).

    ``async with RegistryServer() as server:`` starts it and stops it;
    ``server.url`` is its base URL and ``server.registry`` the registry it
    serves.
    """

    def __init__(
        self,
        registry: ServiceRegistry | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        access_log: bool = False,
    ) -> None:
        self.registry = registry if registry is not None else ServiceRegistry()
        self.host = host
        self.port = port
        self._app = create_app(self.registry, token=token)
        self._access_log = access_log
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        if self._runner is None:
            raise ConfigurationError(
                "RegistryServer.url: the server is not running; call start() first"
            )
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> str:
        if self._runner is not None:
            raise ConfigurationError("RegistryServer.start: already running")
        kwargs: dict[str, Any] = {} if self._access_log else {"access_log": None}
        runner = web.AppRunner(self._app, shutdown_timeout=1.0, **kwargs)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        if self.port == 0:
            self.port = int(runner.addresses[0][1])
        self._runner = runner
        return self.url

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> RegistryServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def serve(
    host: str = "127.0.0.1",
    port: int = 8500,
    *,
    token: str | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve a fresh registry until cancelled (the CLI's ``registry serve``).

    ``ready`` is called with the server's URL once it listens (with port 0,
    the URL names the port the system chose).
    """
    server = RegistryServer(host=host, port=port, token=token, access_log=True)
    await server.start()
    logger.info("registry serving on %s", server.url)
    if ready is not None:
        ready(server.url)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()
