"""POST /classify and POST /classify/batch."""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, Depends

from app.api.deps import BackendDep, BatchBody, ClassifyBody, SettingsDep
from app.backends.base import Backend, BackendError, Query, Result, check_result
from app.core import metrics
from app.core.config import Settings
from app.core.logging import request_id_var
from app.core.security import authorize
from app.language import detect_language
from app.schemas import BatchResponse, ClassifyRequest, ErrorResponse, Prediction

router = APIRouter(tags=["classify"], dependencies=[Depends(authorize)])
log = logging.getLogger("shopintent")

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


async def _answer(backend: Backend, items: list[ClassifyRequest], settings: Settings) -> list[Prediction]:
    """The predictions; with ``log_payloads`` on, each text is logged with its answer (or the failure).

    Shoppers' texts are private: with it off (the default) they never reach the logs."""
    if not settings.log_payloads:
        return await _classify(backend, items, settings.request_timeout_s, settings.max_quantity)
    try:
        predictions = await _classify(backend, items, settings.request_timeout_s, settings.max_quantity)
    except Exception as exc:
        for i, item in enumerate(items):
            _log_payload(i, item, {"error": type(exc).__name__})
        raise
    for i, (item, prediction) in enumerate(zip(items, predictions, strict=True)):
        _log_payload(i, item, prediction.model_dump(
            include={"intent", "product", "quantity", "confidence", "needs_confirmation", "language"}))
    return predictions


def _log_payload(index: int, item: ClassifyRequest, answer: dict[str, object]) -> None:
    log.info("payload", extra={"request_id": request_id_var.get(), "item": index, "text": item.text, "answer": answer})


# The backend comes before the body: a server still loading answers 503, whatever the body.
@router.post("/classify", response_model=Prediction, responses=ERRORS)
async def classify(backend: BackendDep, settings: SettingsDep, body: ClassifyBody) -> Prediction:
    """Intent, exact catalog product and quantity of one shopper message."""
    return (await _answer(backend, [body], settings))[0]


@router.post("/classify/batch", response_model=BatchResponse, responses=ERRORS)
async def classify_batch(backend: BackendDep, settings: SettingsDep, body: BatchBody) -> BatchResponse:
    """Up to 64 messages in one call; results come back in order."""
    return BatchResponse(results=await _answer(backend, body.items, settings))
