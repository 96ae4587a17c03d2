"""What the benchmarks send and how: test-split requests on shared 15-item catalogs, an HTTP load
driver, and the study's own decoding of the same requests (the baseline of the speed-up)."""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

import httpx

from app.domain import OTHER, SHORT_NAMES
from training.jsonl import read_jsonl


def requests_with_15_item_catalogs(n_catalogs: int, per_catalog: int, seed: int = 0) -> list[dict[str, Any]]:
    """Test-split texts in groups that share one 15-item catalog (so a warm cache really hits):
    each catalog is made of the gold products of its group's add/remove rows."""
    rng = random.Random(seed)
    rows = read_jsonl("data/test.jsonl")
    actions = [r for r in rows if r["product"] is not None]
    others = [r for r in rows if r["intent"] == OTHER]
    rng.shuffle(actions)
    out = []
    for _ in range(n_catalogs):
        group, products = [], []
        while len(products) < 15 and actions:
            row = actions.pop()
            if row["product"] not in products:
                products.append(row["product"])
                group.append(row)
        catalog = rng.sample(products, len(products))
        group = group[: max(1, per_catalog - per_catalog // 5)] + rng.sample(others, per_catalog // 5)
        out += [{"text": row["text"], "catalog": catalog} for row in group]
    return out


async def run_load(url: str, bodies: list[dict[str, Any]], concurrency: int) -> tuple[list[float], float, int]:
    """POST each body to ``url``/classify from ``concurrency`` clients: (latencies in ms of the answered
    requests, requests/s, failures). A shed request (a fast 429/503) or a 504 is a failure, not a latency:
    counted among latencies, shed requests would make an overloaded server look fast."""
    latencies: list[float] = []
    failures = 0
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal failures
        while not queue.empty():
            body = queue.get_nowait()
            started = time.perf_counter()
            response = await client.post(url + "/classify", json=body)
            if response.status_code == 200:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                failures += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, len(bodies) / elapsed, failures


def study_style(bodies: list[dict[str, Any]], model_path: str, lora_path: str | None) -> list[float]:
    """The study's decoding: its prompt, then JSON generated token by token under a GBNF grammar."""
    import llama_cpp
    from llama_cpp import Llama, LlamaGrammar

    from app.prompt import paper_prompt

    llm = Llama(model_path, lora_path=lora_path, n_ctx=2048, n_threads=2, verbose=False)
    latencies = []
    for body in bodies:
        schema = {
            "type": "object",
            "properties": {
                "action": {"enum": list(SHORT_NAMES.values())},
                "product": {"enum": [*body["catalog"], None]},
                "quantity": {"type": ["integer", "null"]},
            },
            "required": ["action", "product", "quantity"],
        }
        grammar = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
        started = time.perf_counter()
        out = llm(paper_prompt(body["catalog"], body["text"]) + "\n", grammar=grammar, max_tokens=64, temperature=0.0)
        latencies.append((time.perf_counter() - started) * 1000)
        json.loads(out["choices"][0]["text"])  # valid JSON by construction
    del llm, llama_cpp
    return latencies


def catalog_universe() -> list[str]:
    """Every distinct catalog entry of the test, dev and natural sets (about 6,700): the product
    universe that cold catalogs are drawn from, in a fixed order that sets each entry's popularity."""
    from pathlib import Path

    seen: dict[str, None] = {}
    for path in [Path("data/test.jsonl"), Path("data/dev.jsonl"), *sorted(Path("data/natural").glob("*.jsonl"))]:
        for row in read_jsonl(path):
            seen.update(dict.fromkeys(row["catalog"]))
    entries = list(seen)
    random.Random(7).shuffle(entries)
    return entries


def cold_requests(n: int, sizes: tuple[int, int] = (5, 30), seed: int = 0,
                  universe: list[str] | None = None) -> list[dict[str, Any]]:
    """Requests that each bring a catalog of their own, as real carts do: the gold product of a test
    row plus entries drawn from the universe by a Zipf popularity (weight 1/rank), so entries recur
    across requests while catalogs almost never do. Sizes are uniform in ``sizes`` (inclusive)."""
    rng = random.Random(seed)
    universe = universe or catalog_universe()
    weights = [1.0 / (rank + 1) for rank in range(len(universe))]
    rows = [r for r in read_jsonl("data/test.jsonl") if r["product"] is not None or r["intent"] == OTHER]
    rng.shuffle(rows)
    out = []
    for row in rows[:n]:
        size = rng.randint(*sizes)
        entries = dict.fromkeys(row["catalog"][:1] if row["product"] is None else [row["product"]])
        while len(entries) < size:
            entries.update(dict.fromkeys(rng.choices(universe, weights, k=size - len(entries))))
        catalog = list(entries)[:size]
        rng.shuffle(catalog)
        out.append({"text": row["text"], "catalog": catalog})
    return out
