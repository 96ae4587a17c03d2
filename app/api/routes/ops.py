"""Liveness, readiness, model info and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.api.deps import BackendDep, SettingsDep
from app.core.errors import ApiError
from app.core.lifecycle import DRAINING
from app.domain import INTENTS, LANGUAGES
from app.schemas import Info

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up (it may still be loading the model)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> dict[str, str]:
    """503 until the model is loaded and warmed, and again while draining."""
    if DRAINING.is_set() or not getattr(request.app.state, "ready", False):
        raise ApiError(503, "not_ready", "the model is loading or the server is draining",
                       headers={"Retry-After": "1"})
    return {"status": "ready"}


@router.get("/info", response_model=Info)
async def info(backend: BackendDep, settings: SettingsDep) -> Info:
    return Info(
        model=backend.model_name,
        format=backend.format,
        backend=backend.name,
        base=backend.base,
        adapter=backend.adapter,
        languages=list(LANGUAGES),
        intents=list(INTENTS),
        max_catalog_items=settings.max_catalog_items,
        max_text_chars=settings.max_text_chars,
        confirm_below=backend.confirm_below,
        catalog_layout=getattr(backend, "layout", "causal"),
    )


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
