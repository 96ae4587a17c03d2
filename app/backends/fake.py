"""A rule-based stand-in for the HTTP plumbing tests only (never served by default).

It picks the first catalog entry whose name appears in the text. It exists so tests of routing,
errors, limits and metrics run in milliseconds; real-model behaviour is tested on the real model.
"""

from __future__ import annotations

import asyncio
import re

from app.backends.base import BackendError, Overloaded, Query, Result, within_deadline
from app.domain import ADD, OTHER, REMOVE


class FakeBackend:
    name = "fake"
    model_name = "fake-rules"
    format = "rules"
    base: str | None = None
    adapter: str | None = None
    confirm_below = 0.0

    def __init__(self, delay_s: float = 0.0, capacity: int = 1000) -> None:
        self.delay_s = delay_s
        self.capacity = capacity
        self.in_flight = 0
        self.fail_next = False

    def start(self) -> None:
        return None

    def close(self) -> None:
        return None

    def queue_depth(self) -> int:
        return self.in_flight

    async def classify(self, queries: list[Query], timeout_s: float) -> list[Result]:
        if self.in_flight + len(queries) > self.capacity:
            raise Overloaded("fake queue full")
        if self.fail_next:
            self.fail_next = False
            raise BackendError("injected failure")
        self.in_flight += len(queries)
        try:
            await within_deadline(asyncio.sleep(self.delay_s), timeout_s)
            return [self._answer(q) for q in queries]
        finally:
            self.in_flight -= len(queries)

    @staticmethod
    def _answer(query: Query) -> Result:
        text = query.text.lower()
        product = next((p for p in query.catalog if p.lower() in text), None)
        if re.search(r"\b(remove|delete|take out)\b", text):
            intent = REMOVE
        elif re.search(r"\b(add|put|buy)\b", text):
            intent = ADD
        else:
            return Result(OTHER, None, None, 0.5)
        number = re.search(r"\b(\d{1,3})\b", text)
        return Result(intent, product, int(number.group(1)) if number and int(number.group(1)) > 0 else 1, 0.5)
