"""POST /classify and POST /classify/batch."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends

from app.api.deps import BackendDep, BatchBody, ClassifyBody, SettingsDep
from app.backends.base import Backend, BackendError, Query, Result, check_result
from app.core import metrics
from app.core.security import authorize
from app.language import detect_language
from app.schemas import BatchResponse, ClassifyRequest, ErrorResponse, Prediction

router = APIRouter(tags=["classify"], dependencies=[Depends(authorize)])

ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorResponse, "description": "API key required"},
    403: {"model": ErrorResponse, "description": "API key not valid"},
    422: {"model": ErrorResponse, "description": "Invalid input"},
    429: {"model": ErrorResponse, "description": "Queue full; see Retry-After"},
    503: {"model": ErrorResponse, "description": "Model not ready or failed"},
    504: {"model": ErrorResponse, "description": "No answer before the deadline"},
}


async def _classify(backend: Backend, items: list[ClassifyRequest], timeout_s: float, max_quantity: int) -> list[Prediction]:
    started = time.perf_counter()
    queries = [Query(item.text, tuple(item.catalog)) for item in items]
    results: list[Result] = await backend.classify(queries, timeout_s)
    latency_ms = (time.perf_counter() - started) * 1000
    predictions = []
    for item, query, result in zip(items, queries, results, strict=True):
        if not check_result(result, query.catalog, max_quantity):
            metrics.INVALID_OUTPUTS.labels(backend.name).inc()
            raise BackendError("the model produced an answer outside the contract; refused")
        language = item.language or detect_language(item.text)
        metrics.PREDICTIONS.labels(result.intent, language).inc()
        confidence = round(min(1.0, max(0.0, result.confidence)), 4)
        needs_confirmation = result.confidence < backend.confirm_below
        if needs_confirmation:
            metrics.NEEDS_CONFIRMATION.labels(result.intent).inc()
        predictions.append(
            Prediction(
                intent=result.intent,  # type: ignore[arg-type]
                product=result.product,
                quantity=result.quantity,
                confidence=confidence,
                needs_confirmation=needs_confirmation,
                language=language,
                model=backend.model_name,
                latency_ms=round(latency_ms, 2),
            )
        )
    return predictions


# The backend comes before the body: a server still loading answers 503, whatever the body.
@router.post("/classify", response_model=Prediction, responses=ERRORS)
async def classify(backend: BackendDep, settings: SettingsDep, body: ClassifyBody) -> Prediction:
    """Intent, exact catalog product and quantity of one shopper message."""
    return (await _classify(backend, [body], settings.request_timeout_s, settings.max_quantity))[0]


@router.post("/classify/batch", response_model=BatchResponse, responses=ERRORS)
async def classify_batch(backend: BackendDep, settings: SettingsDep, body: BatchBody) -> BatchResponse:
    """Up to 64 messages in one call; results come back in order."""
    return BatchResponse(results=await _classify(backend, body.items, settings.request_timeout_s, settings.max_quantity))
