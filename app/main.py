"""The FastAPI application: ``create_app()`` wires settings, backend, routes and middleware."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app.api.errors import BACKEND_FAILURES
from app.api.limits import document_limits
from app.api.routes import classify, ops
from app.backends import make_backend
from app.backends.base import Backend
from app.core import metrics
from app.core.config import Settings, get_settings
from app.core.errors import install_error_handlers
from app.core.logging import request_id_var
from app.core.security import RateLimiter, load_keys

log = logging.getLogger("shopintent")


class RequestContext:
    """Pure ASGI middleware: request id, body size limit, and the duration histogram."""

    def __init__(self, app: Any, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:128] or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode("latin-1")))
            await send(message)

        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            await _send_json(send_wrapper, 413, {"error": {"code": "payload_too_large", "request_id": request_id,
                             "message": f"body over {self.max_body_bytes} bytes"}})
        else:
            await self.app(scope, receive, send_wrapper)
        route = scope.get("route")
        endpoint = getattr(route, "path", None) or "unmatched"
        elapsed = time.perf_counter() - started
        metrics.REQUEST_DURATION.labels(endpoint, str(status_holder["status"])).observe(elapsed)
        log.info("request", extra={"method": scope.get("method"), "path": endpoint,
                                   "status": status_holder["status"], "ms": round(elapsed * 1000, 2)})
        request_id_var.reset(token)


async def _send_json(send: Any, status: int, body: dict[str, Any]) -> None:
    import json

    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


def create_app(settings: Settings | None = None, backend: Backend | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ready = False
        chosen = backend or make_backend(settings)
        chosen.start()  # blocking on purpose: a broken model must stop start-up with an error
        app.state.backend = chosen
        app.state.ready = True
        log.info("ready: %s (%s, %s backend)", chosen.model_name, chosen.format, chosen.name)
        try:
            yield
        finally:
            app.state.ready = False
            chosen.close()

    app = FastAPI(
        title="shopintent",
        version="0.1.0",
        summary="Multilingual cart intents for online shops: intent, exact catalog product and quantity.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.api_keys = load_keys(settings)
    app.state.rate_limiter = (
        RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
        if settings.rate_limit_per_s > 0 and app.state.api_keys else None
    )
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
                           allow_headers=["authorization", "x-api-key", "content-type", "x-request-id"])
    app.add_middleware(RequestContext, max_body_bytes=settings.max_body_bytes)
    install_error_handlers(app, settings.retry_after_s, BACKEND_FAILURES)
    app.include_router(classify.router)
    app.include_router(ops.router)

    def openapi() -> dict[str, Any]:  # FastAPI's schema, with this app's request limits
        return app.openapi_schema or document_limits(FastAPI.openapi(app), settings)

    app.openapi = openapi  # type: ignore[method-assign]
    metrics.QUEUE_DEPTH.set_function(lambda: float(getattr(getattr(app.state, "backend", None), "queue_depth", lambda: 0)()))
    return app
