"""What the in-process backends share: a bounded queue feeding one worker thread that owns the model."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from app.backends.base import BackendError, Overloaded, Query, Result, within_deadline
from app.core import metrics


@dataclass
class Job:
    query: Query
    future: concurrent.futures.Future[Result]
    deadline: float
    cost: float = 1.0  # predicted work, in the backend's units (llama.cpp: tokens to evaluate)


class QueuedBackend:
    """Subclasses start ``self._thread`` on a loop that takes ``Job``s from ``self._queue``."""

    RATE_WINDOW_S = 5.0  # capacity is measured over the last seconds of work (short: load shifts fast)
    MAX_WAIT_FRACTION = 0.4  # refuse (429) when the work ahead would eat 40% of the deadline
    confirm_below = 0.0  # set by make_backend

    def __init__(self, queue_size: int) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        # (finished at, busy seconds, cost units done) per unit of worker activity
        self._work: collections.deque[tuple[float, float, float]] = collections.deque(maxlen=4096)
        self._last_capacity: float | None = None

    def cost(self, query: Query) -> float:
        """Predicted work for one query; backends whose requests differ in cost override this."""
        return 1.0

    def _record_work(self, busy_s: float, cost_done: float) -> None:
        """The worker reports each stretch of busy time and the cost of the answers it finished."""
        self._work.append((time.monotonic(), busy_s, cost_done))

    def capacity(self) -> float | None:
        """Cost units per busy second over the recent window (the last measurement when idle).

        Busy time, not wall time: an idle worker must not look slow, or the first burst after a
        quiet spell would be shed for nothing."""
        now = time.monotonic()
        recent = [(busy, done) for t, busy, done in self._work if now - t <= self.RATE_WINDOW_S]
        busy = sum(b for b, _ in recent)
        done = sum(d for _, d in recent)
        if busy > 0.05 and done > 0:  # the warm-up requests already give a first, cautious value
            self._last_capacity = done / busy
        return self._last_capacity

    def backlog(self) -> float:
        """Cost units admitted but not finished: the queue plus what the worker holds."""
        queued: list[Job] = list(self._queue.queue)
        return sum(job.cost for job in queued) + self._in_flight_cost()

    def _in_flight_cost(self) -> float:
        return 0.0

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
        costs = [self.cost(query) for query in queries]
        capacity = self.capacity()
        backlog = self.backlog()
        if capacity is not None and backlog > 0:  # alone in line, shedding it would help nobody
            wait_s = (backlog + sum(costs)) / capacity
            if wait_s > timeout_s * self.MAX_WAIT_FRACTION:
                # Admitting it would likely end in a 504: shed it now, in microseconds, instead.
                metrics.REJECTED.labels("predicted_wait").inc()
                raise Overloaded(f"predicted wait {wait_s:.1f} s ({self.queue_depth()} requests ahead)")
        deadline = time.monotonic() + timeout_s
        futures: list[concurrent.futures.Future[Result]] = []
        for query, cost in zip(queries, costs, strict=True):
            job = self._job(query, concurrent.futures.Future(), deadline)
            job.cost = cost
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

        def cancel() -> None:  # the worker skips a cancelled job it has not claimed yet
            for f in futures:
                f.cancel()

        answers = asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
        return list(await within_deadline(answers, timeout_s, on_timeout=cancel))

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
