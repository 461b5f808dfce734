"""The ASGI application: FastAPI routing under a raw ASGI layer that does what the API's gateway does.

The layer (:class:`GatewayLayer`, plain ASGI, no ``BaseHTTPMiddleware``) runs before any route: the admin token
of the ``/_sandbox`` routes, bearer token, ``Version`` header (which also picks the route's version), scope, the rolling-window rate limit with its ``X-RateLimit-*`` headers, latency and
fault injection, and the counters. A ``drop`` fault lets the request be processed, then sends only the
response head and ends the connection, so the client really sees a broken connection.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import (
    custom_fields,  # noqa: F401  (registers the Locations API's custom field writes)
    directory,  # noqa: F401  (registers the businesses, users and workflows routes)
    locations,  # noqa: F401  (registers the Locations API's task search)
)
from .auth import Principal
from .errors import ApiError, trace_id
from .model import Sandbox
from .routes import ROUTES, Call, RouteDef, dumps, validate
from .versions import accept, oauth_fields, render
from .webhooks import WebhookSender as WebhookSender  # registers the /_sandbox/webhooks routes

_JSON = (b"content-type", b"application/json")
_FAULT_STATUS = {"429": 429, "500": 500, "502": 502, "503": 503}


def _error_response(error: ApiError) -> Response:
    return Response(
        dumps(error.body()), status_code=error.status, media_type="application/json", headers=error.headers
    )


def _endpoint(sb: Sandbox, declared: RouteDef) -> Any:
    async def endpoint(request: Request) -> Response:
        version = request.headers.get("version", "")
        # The gateway chose the route by path, method and version (``removeAll`` vs ``remove-all``).
        chosen, params = request.scope.get("sandbox.route") or (declared, dict(request.path_params))
        definition = chosen.for_version(version)
        query = dict(request.query_params)
        if definition.query is not None:
            problems = [f"property {k} should not exist" for k in query if k not in definition.query]
            problems += [f"{k} should not be empty" for k in definition.required_query if not query.get(k)]
            if problems:
                raise ApiError(422, problems)
        raw = await request.body()
        body: dict[str, Any] = {}
        form = None
        if definition.kind == "oauth" or definition.form:
            form = oauth_fields(version, request.headers.get("content-type", ""), raw)
        elif raw.strip() and (definition.body is not None or definition.kind == "admin"):
            # A body sent to an operation that takes none is ignored, as NestJS does without a body DTO.
            try:
                data = json.loads(raw)
            except ValueError as exc:
                raise ApiError(400, f"Unexpected token in JSON: {exc}") from exc
            body = (
                data
                if definition.kind == "admin" and isinstance(data, dict)
                else validate(definition.body, data)
            )
        elif definition.body is not None and definition.body.required:
            body = validate(definition.body, {})
        call = Call(
            sb,
            request.scope.get("sandbox.principal"),
            params,
            query,
            accept(version, body),
            f"{request.url.scheme}://{request.url.netloc}",
            form,
            version,
        )
        result = await chosen.handler(call)
        if sb.webhooks is not None and definition.kind == "api":
            sb.webhooks.on_change(chosen.label, call, result)
        if definition.kind == "api":
            result = render(version, definition.envelope, result)
        result["traceId"] = trace_id()
        return Response(dumps(result), status_code=definition.status, media_type="application/json")

    endpoint.__name__ = declared.handler.__name__
    return endpoint


def create_app(sb: Sandbox) -> ASGIApp:
    """
    Build the sandbox's ASGI application.

    :param sb: the state it serves.
    """
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    for definition in ROUTES:
        app.add_api_route(definition.path, _endpoint(sb, definition), methods=[definition.method])

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return _error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # NestJS's wording for an unknown route.
        return _error_response(ApiError(exc.status_code, f"Cannot {request.method} {request.url.path}"))

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        return _error_response(ApiError(500, f"Internal server error: {type(exc).__name__}: {exc}"))

    return GatewayLayer(app, sb)


class GatewayLayer:
    """
    Raw ASGI layer in front of the routes: auth, version, scope, limits, latency, faults, counters.

    :param app: the routed application.
    :param sb: the sandbox state.
    """

    def __init__(self, app: ASGIApp, sb: Sandbox) -> None:
        self.app = app
        self.sb = sb
        self.table: list[tuple[re.Pattern[str], dict[str, RouteDef]]] = []
        for definition in ROUTES:
            pattern = compile_path(definition.path)[0]
            for existing, methods in self.table:
                if existing.pattern == pattern.pattern:
                    methods.setdefault(definition.method, definition)
                    break
            else:
                self.table.append((pattern, {definition.method: definition}))

    def match(self, method: str, path: str, version: str) -> tuple[RouteDef, dict[str, str]] | None:
        """
        Return the route a request goes to and its path parameters, or None.

        The first template with that method whose route answers ``version`` wins, else the first template with
        that method (which then refuses the version): so ``DELETE .../campaigns/remove-all`` with
        ``2021-07-28`` is the campaign ``remove-all``, as on the API, where that literal is v3's only.

        :param method: HTTP method.
        :param path: request path.
        :param version: the ``Version`` header.
        """
        fallback = None
        for pattern, methods in self.table:
            found = pattern.match(path) if method in methods else None
            if found is None:
                continue
            definition = methods[method]
            if definition.kind != "api" or version in definition.versions:
                return definition, found.groupdict()
            fallback = fallback or (definition, found.groupdict())
        return fallback

    def admit(self, scope: Scope, definition: RouteDef) -> tuple[Principal, list[tuple[bytes, bytes]]]:
        """
        Check token, version, scope and rate limit of an API request.

        :param scope: the ASGI scope.
        :param definition: its route.
        :return: the principal and the rate-limit headers.
        :raises ApiError: 401, 400, 429.
        """
        authorization = version = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"version":
                version = value
        token = authorization[7:].decode("latin-1").strip() if authorization[:7].lower() == b"bearer " else ""
        principal = self.sb.auth.principal(token) if token else None
        key = (principal.client_id, principal.location_id) if principal else None
        problem = self._refusal(principal, version.decode("latin-1"), definition)
        if problem is not None:
            # Refused before counting; the rate-limit headers still go on the answer.
            problem.headers.update({k.decode(): v.decode() for k, v in self.sb.limiter.peek(key)})
            raise problem
        assert principal is not None and key is not None
        decision = self.sb.limiter.check(key)
        if not decision.allowed:
            # The 429 body and Retry-After are our assumption (the real 429 is undocumented: docs/api-behaviour.md, Rate limits).
            message = (
                f"Too many requests: the limit is {self.sb.limiter.limit} requests per "
                f"{self.sb.limiter.interval:g} s and {self.sb.limiter.daily} per day"
            )
            raise ApiError(429, message, headers={k.decode(): v.decode() for k, v in decision.headers})
        return principal, decision.headers

    @staticmethod
    def _refusal(principal: Principal | None, version: str, definition: RouteDef) -> ApiError | None:
        """Return the 401/400 for a bad token, ``Version`` header or scope, or None when all is well."""
        if principal is None:
            return ApiError(401, "Invalid token: access token is invalid")
        if version not in definition.versions:
            # Our assumption: the real status for a missing/unknown Version header is undocumented.
            expected = list(definition.versions)
            return ApiError(400, f"Version header is missing or not supported; send one of {expected}")
        needed = definition.scope
        if needed == "contacts.write" and needed not in principal.scopes:
            return ApiError(401, "The token is not authorized for this scope: contacts.write is missing")
        if needed == "contacts.readonly" and not principal.scopes & {"contacts.readonly", "contacts.write"}:
            return ApiError(401, "The token is not authorized for this scope: contacts.readonly is missing")
        if needed and needed.startswith("oauth.") and needed not in principal.scopes:
            return ApiError(401, f"The token is not authorized for this scope: {needed} is missing")
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == "/contacts":
            scope["path"] = "/contacts/"
        version = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"version"), "")
        matched = self.match(scope["method"], scope["path"], version)
        definition = matched[0] if matched else None
        scope["sandbox.route"] = matched
        label = definition.label if definition else f"{scope['method']} (unmatched)"
        headers: list[tuple[bytes, bytes]] = []
        fault = None
        if (
            definition is not None
            and definition.kind == "admin"
            and not self._admin_allowed(scope, definition)
        ):
            refusal = ApiError(401, "The /_sandbox routes need the sandbox's admin token (printed at start)")
            await _error_response(refusal)(scope, receive, send)
            return
        if definition is not None and definition.kind == "api":
            try:
                principal, headers = self.admit(scope, definition)
                fault = self.sb.faults.draw(label)
                if fault in _FAULT_STATUS:
                    # Injected 429/5xx faults happen before the request is processed.
                    status = _FAULT_STATUS[fault]
                    extra = {k.decode(): v.decode() for k, v in headers}
                    if status == 429:
                        extra["retry-after"] = "1"
                    raise ApiError(status, f"Injected fault {status} (sandbox fault_rate)", headers=extra)
            except ApiError as error:
                await _error_response(error)(scope, receive, send)
                self.sb.stats.count(label, error.status)
                return
            scope["sandbox.principal"] = principal
            delay = self.sb.options.latency_ms + (self.sb.options.slow_ms if fault == "slow" else 0)
            if delay > 0:
                await asyncio.sleep(delay / 1000)
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if headers:
                    message = {**message, "headers": [*message.get("headers", ()), *headers]}
            await send(message)

        if fault == "drop":
            await self._dropped(scope, receive, send_with_headers)
        else:
            await self.app(scope, receive, send_with_headers)
        if definition is None or definition.kind != "admin":
            self.sb.stats.count(label, status)

    def _admin_allowed(self, scope: Scope, definition: RouteDef) -> bool:
        """True for the health probe, or when the request carries ``Authorization: Bearer <admin token>``."""
        if definition.path == "/_sandbox/health":
            return True
        expected = f"Bearer {self.sb.options.admin_token}".encode()
        given = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        return bool(self.sb.options.admin_token) and hmac.compare_digest(given, expected)

    async def _dropped(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Process the request, then send only the response head: the server closes a half-sent answer."""
        captured: list[Message] = []

        async def capture(message: Message) -> None:
            captured.append(message)

        await self.app(scope, receive, capture)
        if captured:
            await send(captured[0])
        # Returning now, with the body unsent, makes uvicorn close the connection.
