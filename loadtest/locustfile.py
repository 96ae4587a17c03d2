"""Locust scenarios against a running service.

    make loadtest                                   # headless, CSV + HTML under loadtest/results/
    SHOPINTENT_SHAPE=burst make loadtest            # bursts instead of a steady ramp
    locust -f loadtest/locustfile.py --host http://127.0.0.1:8000   # web UI on :8089

Users: steady storefront traffic (mixed languages, 5-20 item catalogs, 80% repeated catalogs),
catalog churn (every catalog new: no prefix-cache hits), the batch endpoint, and a share of bad
inputs that must get a 4xx. 429 (shed load) is counted separately and is not a failure. The run
exits non-zero when the SLOs below are missed (checked in the ``quitting`` listener).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

from locust import FastHttpUser, LoadTestShape, between, events, task

DATA = Path(os.environ.get("SHOPINTENT_LOADTEST_DATA", "data/test.jsonl"))
SLO_P95_MS = float(os.environ.get("SHOPINTENT_SLO_P95_MS", "500"))
SLO_FAILURE_RATIO = float(os.environ.get("SHOPINTENT_SLO_FAILURE_RATIO", "0.01"))

ROWS: list[dict[str, Any]] = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line]
PRODUCT_NAMES = sorted({p for r in ROWS for p in r["catalog"]})
HOT_CATALOGS = [r["catalog"] for r in random.Random(0).sample(ROWS, 50) if 5 <= len(r["catalog"]) <= 20]
SHED = {"count": 0}


def body_for(row: dict[str, Any], catalog: list[str] | None = None) -> dict[str, Any]:
    catalog = list(catalog or row["catalog"])
    if row["product"] and row["product"] not in catalog:
        catalog[random.randrange(len(catalog))] = row["product"]
    return {"text": row["text"], "catalog": list(dict.fromkeys(catalog))}


def post(user: FastHttpUser, path: str, body: Any, name: str, expect_4xx: bool = False) -> None:
    with user.client.post(path, json=body, name=name, catch_response=True) as response:
        if response.status_code == 429:
            SHED["count"] += 1
            response.success()  # shedding load is the designed answer to overload
        elif expect_4xx:
            if 400 <= response.status_code < 500:
                response.success()
            else:
                response.failure(f"bad input got {response.status_code}")
        elif response.status_code != 200:
            response.failure(f"status {response.status_code}")


class StorefrontUser(FastHttpUser):
    """Steady traffic: 80% of requests reuse one of 50 hot catalogs."""

    weight = 6
    wait_time = between(0.05, 0.3)

    @task
    def classify(self) -> None:
        row = random.choice(ROWS)
        catalog = random.choice(HOT_CATALOGS) if random.random() < 0.8 else None
        post(self, "/classify", body_for(row, catalog), "/classify storefront")


class ChurnUser(FastHttpUser):
    """Every request brings a catalog never seen before."""

    weight = 1
    wait_time = between(0.1, 0.5)

    @task
    def classify(self) -> None:
        row = random.choice(ROWS)
        catalog = [*random.sample(PRODUCT_NAMES, random.randint(5, 20)), f"Item {random.getrandbits(40):x}"]
        post(self, "/classify", body_for(row, catalog), "/classify churn")


class BatchUser(FastHttpUser):
    weight = 1
    wait_time = between(0.5, 1.5)

    @task
    def batch(self) -> None:
        items = [body_for(random.choice(ROWS), random.choice(HOT_CATALOGS)) for _ in range(random.randint(2, 16))]
        post(self, "/classify/batch", {"items": items}, "/classify/batch")


class BadInputUser(FastHttpUser):
    weight = 1
    wait_time = between(0.2, 1.0)

    @task
    def bad(self) -> None:
        body = random.choice([
            {"text": "   ", "catalog": ["Milk"]},
            {"text": "add milk", "catalog": []},
            {"text": "add milk", "catalog": ["Milk", "Milk"]},
            {"text": "x" * 2001, "catalog": ["Milk"]},
            {"text": 7, "catalog": ["Milk"]},
            {"catalog": ["Milk"]},
        ])
        post(self, "/classify", body, "/classify bad input", expect_4xx=True)


if os.environ.get("SHOPINTENT_SHAPE") == "burst":

    class Bursts(LoadTestShape):
        """30 s quiet (8 users), 15 s burst (8x), repeated for the run time."""

        def tick(self) -> tuple[int, float] | None:
            run_time = self.get_run_time()
            if run_time > float(os.environ.get("SHOPINTENT_BURST_SECONDS", "180")):
                return None
            return (64, 64.0) if run_time % 45 >= 30 else (8, 8.0)


@events.quitting.add_listener
def gate_on_slos(environment: Any, **_: Any) -> None:
    total = environment.stats.total
    if total.num_requests == 0:
        return
    p95 = total.get_response_time_percentile(0.95)
    failure_ratio = total.fail_ratio
    print(f"SLO check: p95 {p95:.0f} ms (limit {SLO_P95_MS:.0f}), failures {failure_ratio:.4f} "
          f"(limit {SLO_FAILURE_RATIO}), shed with 429: {SHED['count']}")
    if p95 > SLO_P95_MS or failure_ratio > SLO_FAILURE_RATIO:
        print("SLO missed")
        environment.process_exit_code = 1
