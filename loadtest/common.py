"""Small helpers every benchmark uses: the machine's description, percentiles, free ports, memory.

Standard library only, so any venv a benchmark runs in (the service's, the training one, vLLM's)
can import it.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def machine() -> str:
    """Cores, CPU model and its widest SIMD: llama.cpp's speed depends on all three (AVX-512 against
    AVX2 alone: `make eval` ran at 9.5 rows/s on the first, 3.4 on the second), so reports name it."""
    from app.doctor import cpu_info  # standard library only, like this module

    cpu = cpu_info()
    simd = "AVX-512" if "avx512f" in cpu.flags else "AVX2" if "avx2" in cpu.flags else "no AVX2"
    if "amx_int8" in cpu.flags:
        simd += " + AMX"  # compiled out of our engine (scripts/install_llama_cpp.sh), but it names the CPU
    return f"{os.cpu_count()} cores, {cpu.model or 'unknown CPU'}, {simd}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> tuple[float, float]:
    """(RSS, peak RSS) of one process, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def tree_rss_mb(root: int) -> float:
    """RSS of a process and all its descendants (vLLM runs its engine in a child)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total
