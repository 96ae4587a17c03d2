"""What every backend offers the API: one small protocol and its errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from app.domain import ACTIONS, OTHER


@dataclass(frozen=True)
class Query:
    text: str
    catalog: tuple[str, ...]


@dataclass(frozen=True)
class Result:
    intent: str
    product: str | None
    quantity: int | None
    confidence: float


class BackendError(Exception):
    """The backend failed on this request; the service keeps running (503)."""


class Overloaded(BackendError):
    """The queue is full (429 with Retry-After)."""


class InputTooLarge(ValueError):
    """The input fits the API limits but not the model's context (422)."""


class ModelLoadError(RuntimeError):
    """The model could not be loaded; the service must not start."""


class Backend(Protocol):
    name: str  # "llamacpp", "hf", "vllm", "fake"
    model_name: str
    format: str  # e.g. "gguf-q4_k_m+lora"
    base: str | None
    adapter: str | None
    # Answers with a (calibrated) confidence below this are flagged ``needs_confirmation``; 0: never.
    confirm_below: float

    def start(self) -> None:
        """Load and warm up; blocking. Raises ModelLoadError."""

    async def classify(self, queries: list[Query], timeout_s: float) -> list[Result]:
        """Answers in order. Raises Overloaded, InputTooLarge, TimeoutError or BackendError."""

    def queue_depth(self) -> int: ...

    def close(self) -> None: ...


def check_result(result: Result, catalog: tuple[str, ...], max_quantity: int) -> bool:
    """The output contract: used to count (and refuse) invalid outputs from any backend."""
    if result.intent == OTHER:
        return result.product is None and result.quantity is None
    if result.intent not in ACTIONS:
        return False
    if result.product is not None and result.product not in catalog:
        return False
    return isinstance(result.quantity, int) and 1 <= result.quantity <= max_quantity
