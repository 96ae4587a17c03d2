"""Engine builds compared on this machine, interleaved in one run: portable (runtime-dispatched CPU
kernels) against host (-march=native minus AMX), on the served model.

    python -m loadtest.engine_builds                 # builds either wheel if it is not cached (3-5 min each)
    python -m loadtest.engine_builds --rounds 5 --out reports/engine-builds

Each round starts one fresh process per build (unpacked wheel first on PYTHONPATH) that loads the served
GGUF and times, on 2 threads: prompt processing of a 300-token catalog prompt (tokens/s, best of 3) and
32 single-token decodes (tokens/s). Rounds alternate the order of the builds so drift hits both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from loadtest.common import machine

ROOT = Path(__file__).resolve().parent.parent

PROBE = r"""
import json, sys, time
import llama_cpp as L
L.llama_backend_init()
m = L.llama_model_load_from_file(sys.argv[1].encode(), L.llama_model_default_params())
p = L.llama_context_default_params(); p.n_ctx = 1024; p.n_batch = p.n_ubatch = 512
p.n_threads = p.n_threads_batch = int(sys.argv[2]); p.no_perf = True
ctx = L.llama_init_from_model(m, p)
vocab = L.llama_model_get_vocab(m)
items = ["Apples (1kg bag)", "Whole milk (1L)", "Dish soap", "USB-C charger", "Toilet paper (12 rolls)",
         "Bed sheets", "Pillow", "Sunscreen SPF 50", "Running shoes", "Extension cord (3 m)"] * 6
text = ("Catalog:\n" + "\n".join(items) + "\n\nUser:\nadd two bottles of milk please").encode()
buf = (L.llama_token * 2048)()
n = L.llama_tokenize(vocab, text, len(text), buf, 2048, True, False)
tokens = list(buf[:n])[:300]
mem = L.llama_get_memory(ctx)
best = 0.0
for _ in range(3):
    L.llama_memory_clear(mem, True)
    arr = (L.llama_token * len(tokens))(*tokens)
    t0 = time.perf_counter()
    assert L.llama_decode(ctx, L.llama_batch_get_one(arr, len(tokens))) == 0
    best = max(best, len(tokens) / (time.perf_counter() - t0))
one = (L.llama_token * 1)(tokens[-1])
t0 = time.perf_counter()
for _ in range(32):
    assert L.llama_decode(ctx, L.llama_batch_get_one(one, 1)) == 0
gen = 32 / (time.perf_counter() - t0)
print(json.dumps({"prompt_tok_s": best, "gen_tok_s": gen, "prompt_tokens": len(tokens),
                  "system": L.llama_print_system_info().decode()}))
"""


def wheel(profile: str) -> Path:
    out = subprocess.run([str(ROOT / "scripts" / "install_llama_cpp.sh"), "--wheel-only", profile], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip().splitlines()[-1])


def measure(site: Path, model: str, threads: int) -> dict[str, float | str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run([sys.executable, "-c", PROBE, model, str(threads)], capture_output=True, text=True,
                          env=env, timeout=600, check=True)
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "engine-builds")
    args = parser.parse_args()
    from app.artifacts import DEFAULT_MANIFEST, resolve

    model = str(resolve(ROOT / DEFAULT_MANIFEST, merge=True).model_path)
    profiles = ("portable", "host")
    sites: dict[str, Path] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for profile in profiles:
            sites[profile] = Path(tmp) / profile
            with zipfile.ZipFile(wheel(profile)) as zf:
                zf.extractall(sites[profile])
        runs: dict[str, list[dict[str, float | str]]] = {p: [] for p in profiles}
        for r in range(args.rounds):
            for profile in profiles if r % 2 == 0 else profiles[::-1]:
                runs[profile].append(measure(sites[profile], model, args.threads))
                print(f"round {r + 1} {profile}: {runs[profile][-1]['prompt_tok_s']:.0f} prompt tok/s, "
                      f"{runs[profile][-1]['gen_tok_s']:.0f} gen tok/s", flush=True)
    cpu = machine()
    summary = {p: {k: statistics.median(float(run[k]) for run in runs[p]) for k in ("prompt_tok_s", "gen_tok_s")}
               | {"kernels": str(runs[p][0]["system"])} for p in profiles}
    report = {"cpu": cpu, "threads": args.threads, "rounds": args.rounds, "model": model, "summary": summary,
              "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [f"# Engine builds on {cpu}; {args.threads} threads (median of {args.rounds} interleaved rounds)", "",
             "Made by `python -m loadtest.engine_builds`.", "",
             "| build | prompt tok/s (300 tokens) | decode tok/s | ratio to host (prompt / decode) | kernels |",
             "|---|---|---|---|---|"]
    host = summary["host"]
    for p in profiles:
        s = summary[p]
        lines.append(f"| {p} | {s['prompt_tok_s']:.0f} | {s['gen_tok_s']:.0f} | "
                     f"{s['prompt_tok_s'] / host['prompt_tok_s']:.2f} / {s['gen_tok_s'] / host['gen_tok_s']:.2f} | "
                     f"{str(s['kernels']).replace('|', ',').strip(' ,')} |")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
