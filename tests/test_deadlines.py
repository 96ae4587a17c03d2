"""One deadline helper (``app.backends.base.within_deadline``) for every backend's ``classify``."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import httpx
import pytest

from app.backends.base import Query, Result, within_deadline
from app.backends.fake import FakeBackend
from app.backends.queued import QueuedBackend
from app.backends.vllm import VLLMBackend

QUERY = Query("add milk", ("Milk",))


def test_within_deadline_passes_answers_and_exceptions_through() -> None:
    async def answer() -> int:
        return 7

    async def fail() -> int:
        raise ValueError("not a timeout")

    assert asyncio.run(within_deadline(answer(), 1.0)) == 7
    with pytest.raises(ValueError, match="not a timeout"):
        asyncio.run(within_deadline(fail(), 1.0))


def test_within_deadline_cancels_runs_on_timeout_and_says_so() -> None:
    cancelled: list[bool] = []
    called: list[bool] = []

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    with pytest.raises(TimeoutError, match=r"^no answer within 0\.05 s$") as info:
        asyncio.run(within_deadline(slow(), 0.05, on_timeout=lambda: called.append(True)))
    assert cancelled == [True] and called == [True]
    assert info.value.__cause__ is None and info.value.__suppress_context__  # raised "from None"


def test_a_timeout_error_from_the_work_reads_as_the_deadline() -> None:
    async def queued_too_long() -> None:  # e.g. a job the worker refused: "deadline passed while queued"
        raise TimeoutError("deadline passed while queued")

    with pytest.raises(TimeoutError, match=r"^no answer within 2 s$"):
        asyncio.run(within_deadline(queued_too_long(), 2))


def test_fake_backend_deadline() -> None:
    backend = FakeBackend(delay_s=1.0)
    with pytest.raises(TimeoutError, match=r"^no answer within 0\.05 s$"):
        asyncio.run(backend.classify([QUERY], 0.05))
    assert backend.in_flight == 0


def test_queued_backend_deadline_cancels_its_jobs() -> None:
    backend = QueuedBackend(queue_size=10)
    stop = threading.Event()
    backend._thread = threading.Thread(target=stop.wait, args=(5,), daemon=True)
    backend._thread.start()  # "alive", but never takes jobs
    futures: list[concurrent.futures.Future[Result]] = []
    submit = backend.submit

    def spy(queries: list[Query], timeout_s: float) -> list[concurrent.futures.Future[Result]]:
        futures.extend(submit(queries, timeout_s))
        return futures

    backend.submit = spy  # type: ignore[method-assign]
    try:
        with pytest.raises(TimeoutError, match=r"^no answer within 0\.05 s$"):
            asyncio.run(backend.classify([QUERY, QUERY], 0.05))
        assert len(futures) == 2 and all(f.cancelled() for f in futures)
    finally:
        stop.set()


def test_vllm_backend_deadline() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(10)
        return httpx.Response(200, json={"choices": [{"text": " other\n"}]})

    backend = VLLMBackend("http://vllm.test")
    backend._client = httpx.AsyncClient(transport=httpx.MockTransport(slow))
    with pytest.raises(TimeoutError, match=r"^no answer within 0\.05 s$"):
        asyncio.run(backend.classify([QUERY], 0.05))
    assert backend.queue_depth() == 0
