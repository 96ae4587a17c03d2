"""Dependencies of the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.api.limits import check_batch, check_classify
from app.backends.base import Backend
from app.core.config import Settings
from app.core.errors import ApiError
from app.schemas import BatchRequest, ClassifyRequest


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_backend(request: Request) -> Backend:
    backend: Backend | None = getattr(request.app.state, "backend", None)
    if backend is None or not getattr(request.app.state, "ready", False):
        raise ApiError(503, "not_ready", "the model is still loading", headers={"Retry-After": "1"})
    return backend


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
BackendDep = Annotated[Backend, Depends(get_backend)]


async def classify_body(body: ClassifyRequest, settings: SettingsDep) -> ClassifyRequest:
    """The request body, within the limits of the app's settings (422 otherwise)."""
    check_classify(body, settings)
    return body


async def batch_body(body: BatchRequest, settings: SettingsDep) -> BatchRequest:
    """The batch body, within the limits of the app's settings (422 otherwise)."""
    check_batch(body, settings)
    return body


ClassifyBody = Annotated[ClassifyRequest, Depends(classify_body)]
BatchBody = Annotated[BatchRequest, Depends(batch_body)]
