"""The CPU image as a deployment uses it (scripts/docker_check.py): built, healthy, right, drains on stop.

Needs a running Docker engine and its base images (scripts/docker_local_bases.sh); takes minutes, so it
is marked slow and docker and is skipped where no engine answers. ``make image`` runs the same check.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.docker]


def _engine_up() -> bool:
    return shutil.which("docker") is not None and subprocess.run(["docker", "info"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _engine_up(), reason="no running Docker engine")
def test_cpu_image_serves_is_healthy_and_drains(tmp_path: Path) -> None:
    out = tmp_path / "docker"
    proc = subprocess.run([sys.executable, "scripts/docker_check.py", "--out", str(out)], capture_output=True,
                          text=True, timeout=3600, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    report = json.loads(out.with_suffix(".json").read_text())
    assert all(a["correct"] for a in report["answers"]), report["answers"]
    assert report["image_mb"] < 600
    assert report["drain"]["dropped"] == 0
    assert report["compose"]["prometheus_target"] == "up"
