"""What the in-process backends share: a bounded queue feeding one worker thread that owns the model."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from app.backends.base import BackendError, Overloaded, Query, Result
from app.core import metrics


@dataclass
class Job:
    query: Query
    future: concurrent.futures.Future[Result]
    deadline: float
    state: dict[str, Any] = field(default_factory=dict)


class QueuedBackend:
    """Subclasses start ``self._thread`` on a loop that takes ``Job``s from ``self._queue``."""

    RATE_WINDOW_S = 5.0  # service rate is measured over the last seconds of completions
    MAX_WAIT_FRACTION = 0.5  # refuse (429) when the queue ahead would eat half the deadline

    def __init__(self, queue_size: int) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._completions: collections.deque[float] = collections.deque(maxlen=4096)

    def _completed(self) -> None:
        self._completions.append(time.monotonic())

    def service_rate(self) -> float | None:
        """Answers per second over the recent window; None until there is a measurement."""
        now = time.monotonic()
        recent = sum(1 for t in self._completions if now - t <= self.RATE_WINDOW_S)
        return recent / self.RATE_WINDOW_S if recent >= 5 else None

    def _job(self, query: Query, future: concurrent.futures.Future[Result], deadline: float) -> Any:
        return Job(query, future, deadline)

    def queue_depth(self) -> int:
        return self._queue.qsize()

    def submit(self, queries: list[Query], timeout_s: float) -> list[concurrent.futures.Future[Result]]:
        if self._thread is None or not self._thread.is_alive():
            raise BackendError("the model is not running")
        if self._queue.qsize() + len(queries) > self._queue.maxsize:
            metrics.REJECTED.labels("queue_full").inc()
            raise Overloaded(f"queue full ({self._queue.maxsize} waiting)")
        rate = self.service_rate()
        if rate is not None and (self.queue_depth() + len(queries)) / rate > timeout_s * self.MAX_WAIT_FRACTION:
            # Admitting it would likely end in a 504: shed it now, in microseconds, instead.
            metrics.REJECTED.labels("predicted_wait").inc()
            raise Overloaded(f"{self.queue_depth()} requests ahead at {rate:.1f}/s")
        deadline = time.monotonic() + timeout_s
        futures: list[concurrent.futures.Future[Result]] = []
        for query in queries:
            job = self._job(query, concurrent.futures.Future(), deadline)
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                for f in futures:
                    f.cancel()
                metrics.REJECTED.labels("queue_full").inc()
                raise Overloaded(f"queue full ({self._queue.maxsize} waiting)") from None
            futures.append(job.future)
        return futures

    async def classify(self, queries: list[Query], timeout_s: float) -> list[Result]:
        futures = self.submit(queries, timeout_s)
        try:
            return list(
                await asyncio.wait_for(asyncio.gather(*(asyncio.wrap_future(f) for f in futures)), timeout_s)
            )
        except (asyncio.TimeoutError, TimeoutError):
            for f in futures:
                f.cancel()
            raise TimeoutError(f"no answer within {timeout_s} s") from None

    def classify_sync(self, queries: list[Query], timeout_s: float = 60.0) -> list[Result]:
        futures = self.submit(queries, timeout_s)
        return [f.result(timeout=timeout_s) for f in futures]

    @staticmethod
    def _claim(job: Job) -> bool:
        """Start a job unless its client gave up or its deadline passed while it waited."""
        if not job.future.set_running_or_notify_cancel():
            return False
        if time.monotonic() > job.deadline:
            metrics.REJECTED.labels("deadline").inc()
            job.future.set_exception(TimeoutError("deadline passed while queued"))
            return False
        return True
