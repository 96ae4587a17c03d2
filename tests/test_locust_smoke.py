"""CI's short Locust run: every scenario against the real server for 20 s, gated on the SLOs
(no failures at all; a loose p95, since Locust shares the 2 cores with the server here).

The full runs are commands, not tests: `make loadtest` (against `make run`) and `make soak`.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_server_process import _start, _wait_ready

# Not imported here: locust monkey-patches the standard library with gevent on import.
pytestmark = pytest.mark.skipif(importlib.util.find_spec("locust") is None, reason="needs locust (pip install '.[dev]')")


def test_locust_smoke_meets_the_slos(tmp_path: Path) -> None:
    proc, url = _start({"SHOPINTENT_LOG_LEVEL": "warning"})
    try:
        _wait_ready(proc, url)
        run = subprocess.run(
            [sys.executable, "-m", "locust", "-f", "loadtest/locustfile.py", "--headless", "--host", url,
             "-u", "8", "-r", "8", "-t", "20s", "--csv", str(tmp_path / "smoke"), "--only-summary"],
            env={**os.environ, "SHOPINTENT_SLO_P95_MS": "10000", "SHOPINTENT_SLO_FAILURE_RATIO": "0"},
            capture_output=True, text=True, timeout=120,
        )
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "SLO check" in run.stdout + run.stderr
    with (tmp_path / "smoke_stats.csv").open() as f:
        rows = {row["Name"]: row for row in csv.DictReader(f)}
    assert int(rows["Aggregated"]["Request Count"]) > 50
    assert int(rows["Aggregated"]["Failure Count"]) == 0
    assert int(rows["/classify bad input"]["Request Count"]) > 0  # bad inputs were sent and got their 4xx
