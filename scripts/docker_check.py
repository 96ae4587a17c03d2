"""Build the CPU image and check it as a deployment would use it; write reports/docker.{json,md}.

    make image                       # = .venv/bin/python scripts/docker_check.py
    python scripts/docker_check.py --no-build --skip-compose

Steps, each timed: stage the host's cached portable engine wheel (building it if needed), ``docker build
-f Dockerfile.cpu``, ``docker run``; wait for the HEALTHCHECK to report healthy; send a Croatian and a
Spanish request and check the answers; read the container's memory; ``docker stop`` while 24 requests are in
flight (each must be answered, none reset); then ``docker compose --profile cpu --profile obs up`` and ask
the Prometheus built from Debian's package whether it scrapes the service. Needs a Docker engine whose
``python:3.11-slim-bookworm`` and ``debian:bookworm-slim`` images exist or can be pulled
(scripts/docker_local_bases.sh makes both with debootstrap where no registry is reachable).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from scripts/: the project's own helpers
from loadtest.common import free_port, machine  # noqa: E402

IMAGE = "shopintent:cpu"
ENV = {**os.environ, "DOCKER_BUILDKIT": "0", "COMPOSE_DOCKER_CLI_BUILD": "0"}
CATALOG = ["Pillow", "Milk (1L)", "Bed sheets", "Dish soap", "Apples (1kg bag)"]
REQUESTS = (  # (language, text, expected intent, product, quantity)
    ("hr", "dodaj 2 jastuka u košaricu", "add_to_cart", "Pillow", 2),
    ("es", "quita dos leches del carrito", "remove_from_cart", "Milk (1L)", 2),
)


def sh(*cmd: str, check: bool = True, capture: bool = True, timeout: float = 3600) -> str:
    proc = subprocess.run(cmd, cwd=ROOT, env=ENV, text=True, capture_output=capture, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{(proc.stdout or '')[-3000:]}{(proc.stderr or '')[-3000:]}")
    return (proc.stdout or "").strip()


def wait_healthy(container: str, seconds: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        state = json.loads(sh("docker", "inspect", "-f", "{{json .State}}", container))
        if not state["Running"]:
            raise SystemExit(f"container exited ({state['ExitCode']}):\n{sh('docker', 'logs', container, check=False)[-3000:]}")
        if state.get("Health", {}).get("Status") == "healthy":
            return time.monotonic() - started
        time.sleep(0.25)
    raise SystemExit(f"not healthy after {seconds} s:\n{sh('docker', 'logs', container, check=False)[-3000:]}")


def wait_ready(url: str, seconds: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} not ready after {seconds} s")


def check_answers(url: str) -> list[dict[str, Any]]:
    rows = []
    for lang, text, intent, product, quantity in REQUESTS:
        t0 = time.perf_counter()
        r = httpx.post(url + "/classify", json={"text": text, "catalog": CATALOG}, timeout=30)
        ms = (time.perf_counter() - t0) * 1000
        r.raise_for_status()
        body = r.json()
        ok = (body["intent"], body["product"], body["quantity"]) == (intent, product, quantity)
        rows.append({"language": lang, "text": text, "answer": {k: body[k] for k in ("intent", "product", "quantity")},
                     "confidence": body.get("confidence"), "ms": round(ms, 1), "correct": ok})
    return rows


def memory_mib(container: str) -> float:
    used = sh("docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", container).split("/")[0].strip()
    value, unit = float(used[:-3]), used[-3:]
    return round(value * {"KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0}[unit], 1)


def drain_on_stop(container: str, url: str) -> dict[str, Any]:
    def call(i: int) -> int | None:
        try:
            return httpx.post(url + "/classify", json={"text": f"add {i % 9 + 1} apples", "catalog": CATALOG},
                              timeout=30).status_code
        except httpx.HTTPError:
            return None  # refused or reset

    with concurrent.futures.ThreadPoolExecutor(24) as pool:
        futures = [pool.submit(call, i) for i in range(24)]
        time.sleep(0.3)
        t0 = time.monotonic()
        sh("docker", "stop", "-t", "30", container)
        stop_s = time.monotonic() - t0
        statuses = [f.result() for f in futures]
    exit_code = int(sh("docker", "inspect", "-f", "{{.State.ExitCode}}", container))
    return {"stop_s": round(stop_s, 2), "exit_code": exit_code, "answered_200": statuses.count(200),
            "answered_429": statuses.count(429), "dropped": sum(s is None for s in statuses),
            "other": [s for s in statuses if s not in (200, 429, None)]}


def compose_obs(timeout_s: float) -> dict[str, Any]:
    port, prom_port = free_port(), free_port()
    env = {"SHOPINTENT_PUBLISH": f"127.0.0.1:{port}", "PROMETHEUS_PUBLISH": f"127.0.0.1:{prom_port}"}
    ENV.update(env)
    project = ["docker", "compose", "-p", "shopintent-check", "--profile", "cpu", "--profile", "obs"]
    try:
        t0 = time.monotonic()
        sh(*project, "up", "-d", "--build")
        up_s = time.monotonic() - t0
        url = f"http://127.0.0.1:{port}"
        ready_s = wait_ready(url, timeout_s)
        httpx.post(url + "/classify", json={"text": "add 2 apples", "catalog": CATALOG}, timeout=30).raise_for_status()
        prom = f"http://127.0.0.1:{prom_port}"
        deadline, target, sample = time.monotonic() + timeout_s, None, None
        while time.monotonic() < deadline:
            try:
                targets = httpx.get(prom + "/api/v1/targets", timeout=2).json()["data"]["activeTargets"]
                target = next((t for t in targets if t["labels"].get("instance") == "shopintent-cpu:8000"), None)
                if target and target["health"] == "up":
                    q = httpx.get(prom + "/api/v1/query", params={"query": "shopintent_predictions_total"}, timeout=2).json()
                    if q["data"]["result"]:
                        sample = q["data"]["result"][0]
                        break
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            time.sleep(1)
        return {"up_s": round(up_s, 1), "service_ready_s": round(ready_s, 1),
                "prometheus_target": target["health"] if target else "missing",
                "scraped_series": sample["metric"] if sample else None,
                "scraped_value": sample["value"][1] if sample else None}
    finally:
        sh(*project, "down", "-t", "10", check=False)
        for key in env:
            ENV.pop(key, None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-build", action="store_true", help="check the existing shopintent:cpu image")
    parser.add_argument("--skip-compose", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "docker")
    args = parser.parse_args()
    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        print("docker_check: no running Docker engine (apt-get install docker.io, then start dockerd; "
              "scripts/docker_local_bases.sh does both and makes the base images)", file=sys.stderr)
        return 2
    report: dict[str, Any] = {"machine": machine()}
    if not args.no_build:
        t0 = time.monotonic()
        wheel = Path(sh("scripts/install_llama_cpp.sh", "--wheel-only", "portable"))
        staged = ROOT / "build" / "wheels"
        shutil.rmtree(staged, ignore_errors=True)
        staged.mkdir(parents=True)
        shutil.copy2(wheel, staged / wheel.name)
        report["engine_wheel_s"] = round(time.monotonic() - t0, 1)
        print(f"engine wheel staged ({report['engine_wheel_s']} s); building {IMAGE} ...", flush=True)
        t0 = time.monotonic()
        sh("docker", "build", "-f", "Dockerfile.cpu", "-t", IMAGE, ".", capture=False)
        report["build_s"] = round(time.monotonic() - t0, 1)
    report["image_mb"] = round(int(sh("docker", "image", "inspect", "-f", "{{.Size}}", IMAGE)) / 1e6, 1)
    print(f"image {IMAGE}: {report['image_mb']} MB", flush=True)

    container = f"shopintent-check-{os.getpid()}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    sh("docker", "run", "-d", "--name", container, "-p", f"127.0.0.1:{port}:8000", "--cpus", "2", IMAGE)
    try:
        wait_ready(url, 120)
        report["ready_s"] = round(time.monotonic() - t0, 1)
        wait_healthy(container, 120)
        report["healthy_s"] = round(time.monotonic() - t0, 1)
        report["answers"] = check_answers(url)
        report["memory_mib"] = memory_mib(container)
        report["drain"] = drain_on_stop(container, url)
    finally:
        report["logs_tail"] = sh("docker", "logs", "--tail", "5", container, check=False)
        sh("docker", "rm", "-f", container, check=False)
    if not args.skip_compose:
        report["compose"] = compose_obs(180)

    drain = report["drain"]
    failures = [f"{a['language']}: {a['answer']}" for a in report["answers"] if not a["correct"]]
    if drain["dropped"] or drain["other"] or drain["exit_code"] not in (0, 143):
        failures.append(f"drain: {drain}")
    if report["image_mb"] > 600:
        failures.append(f"image {report['image_mb']} MB > 600 MB")
    if "compose" in report and report["compose"]["scraped_series"] is None:
        failures.append(f"prometheus did not scrape the service: {report['compose']}")
    report["failures"] = failures
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    args.out.with_suffix(".md").write_text(render(report))
    print(render(report))
    return 1 if failures else 0


def render(r: dict[str, Any]) -> str:
    lines = ["# The CPU image, built and run", "", f"Machine: {r['machine']}. "
             "Made by `make image` (scripts/docker_check.py).", "", "| measure | value |", "|---|---|"]
    if "build_s" in r:
        lines.append(f"| `docker build -f Dockerfile.cpu` (engine wheel staged) | {r['build_s']} s |")
    lines += [f"| image size | {r['image_mb']} MB |",
              f"| `docker run` to `/readyz` 200 (cold start, incl. pre-flight) | {r['ready_s']} s |",
              f"| `docker run` to HEALTHCHECK healthy (5 s interval) | {r['healthy_s']} s |",
              f"| memory after the requests | {r['memory_mib']} MiB |"]
    d = r["drain"]
    lines.append(f"| `docker stop` with 24 requests in flight | {d['stop_s']} s, exit {d['exit_code']}: "
                 f"{d['answered_200']} answered, {d['answered_429']} shed (429), {d['dropped']} dropped |")
    if "compose" in r:
        c = r["compose"]
        lines.append(f"| `compose --profile cpu --profile obs up` | service ready in {c['service_ready_s']} s; "
                     f"Prometheus target {c['prometheus_target']}, `shopintent_predictions_total` = {c['scraped_value']} |")
    lines += ["", "| language | text | answer | confidence | ms |", "|---|---|---|---|---|"]
    for a in r["answers"]:
        ans = a["answer"]
        lines.append(f"| {a['language']} | {a['text']} | {ans['intent']} {ans['product']} ×{ans['quantity']}"
                     f"{'' if a['correct'] else ' (WRONG)'} | {a['confidence']} | {a['ms']} |")
    if r["failures"]:
        lines += ["", "FAILED: " + "; ".join(r["failures"])]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
