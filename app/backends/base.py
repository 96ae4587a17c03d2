"""What every backend offers the API: one small protocol and its errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

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


T = TypeVar("T")


async def within_deadline(work: Awaitable[T], timeout_s: float, on_timeout: Callable[[], None] | None = None) -> T:
    """``await work``, for at most ``timeout_s`` seconds: how ``classify(queries, timeout_s)`` keeps its deadline.

    Past the deadline ``work`` is cancelled, ``on_timeout`` runs (e.g. to cancel what was handed to a
    worker thread) and ``TimeoutError("no answer within <timeout_s> s")`` is raised: the API's 504.
    A ``TimeoutError`` raised by ``work`` itself is reported the same way."""
    try:
        return await asyncio.wait_for(work, timeout_s)
    except (asyncio.TimeoutError, TimeoutError):  # distinct classes before Python 3.11
        if on_timeout is not None:
            on_timeout()
        raise TimeoutError(f"no answer within {timeout_s} s") from None


def check_result(result: Result, catalog: tuple[str, ...], max_quantity: int) -> bool:
    """The output contract: used to count (and refuse) invalid outputs from any backend."""
    if result.intent == OTHER:
        return result.product is None and result.quantity is None
    if result.intent not in ACTIONS:
        return False
    if result.product is not None and result.product not in catalog:
        return False
    return isinstance(result.quantity, int) and 1 <= result.quantity <= max_quantity
