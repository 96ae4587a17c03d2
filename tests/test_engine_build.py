"""The installed llama.cpp engine suits this host, and a build that does not is stopped with a message.

ggml's AMX matmul path (compiled in by ``-march=native`` on AMX hosts) dies with SIGILL at the first
decode on Sapphire Rapids-class Xeons; scripts/install_llama_cpp.sh builds without it, and the
service's pre-flight child (app.doctor) turns any such signal into exit status 4 and a fix.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app.doctor import EXIT_HOST_UNSUITED, CpuInfo, build_info, cpu_info

AMX_INSTRUCTIONS = ("tileloadd", "tdpbssd", "tdpbf16ps", "ldtilecfg")


def _engine_libs() -> list[Path]:
    import llama_cpp

    return sorted((Path(llama_cpp.__file__).parent / "lib").glob("libggml*.so"))


@pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump (binutils) is not installed")
def test_installed_engine_carries_no_amx_kernels() -> None:
    libs = _engine_libs()
    assert any(lib.name.startswith("libggml-cpu") for lib in libs), libs
    for lib in libs:
        code = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(lib)], capture_output=True, text=True,
                              check=True).stdout
        found = [op for op in AMX_INSTRUCTIONS if f"\t{op} " in code or f"\t{op}\n" in code]
        assert not found, f"{lib.name} contains AMX instructions {found}"


def test_installed_engine_was_built_by_our_script() -> None:
    info = build_info()
    assert info.get("profile") in ("host", "portable"), info  # not a stray default (-march=native) build


def test_cpu_levels_from_cpuinfo(tmp_path: Path) -> None:
    def level(flags: str) -> CpuInfo:
        f = tmp_path / "cpuinfo"
        f.write_text(f"processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t: fpu\n")
        return cpu_info(f)

    v2 = "cx16 lahf_lm popcnt sse4_1 sse4_2 ssse3"
    v3 = v2 + " avx avx2 bmi1 bmi2 f16c fma movbe xsave"
    assert level("fpu sse2").level == "x86-64-v1"
    assert level(v2).level == "x86-64-v2"
    haswell = level(v3)
    assert haswell.level == "x86-64-v3" and haswell.model == "Test CPU"
    assert haswell.kernel_flags == ["avx2", "fma", "f16c"]
    spr = level(v3 + " avx512f avx512bw avx512cd avx512dq avx512vl avx512_vnni amx_tile amx_int8")
    assert spr.level == "x86-64-v4" and "amx_int8" in spr.kernel_flags
    assert level("avx512f " + v2).level == "x86-64-v2"  # levels are cumulative
    assert cpu_info(tmp_path / "missing").level == "x86-64-v1"


# Makes every llama_decode in the process die the way the AMX kernel does: SIGILL.
_SIGILL_ON_DECODE = """
import builtins, os, signal
_import = builtins.__import__
def _hooked(name, *args, **kwargs):
    module = _import(name, *args, **kwargs)
    if name == "llama_cpp" and not getattr(module, "_test_sigill", False):
        module._test_sigill = True
        module.llama_decode = lambda *a: os.kill(os.getpid(), signal.SIGILL)
    return module
builtins.__import__ = _hooked
"""


def test_a_fault_in_the_warm_up_stops_the_service_with_a_message(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(_SIGILL_ON_DECODE)
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "SHOPINTENT_PORT": "1", "SHOPINTENT_HOST": "127.0.0.1"}
    proc = subprocess.run([sys.executable, "-m", "app"], env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == EXIT_HOST_UNSUITED, out  # an exit status, not a signal
    assert "died of SIGILL" in out and "CPU:" in out and "Fix:" in out, out
    assert "Traceback" not in out
    assert proc.returncode != -signal.SIGILL


def test_doctor_reports_the_host_and_a_timed_start() -> None:
    proc = subprocess.run([sys.executable, "-m", "app.doctor"], capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for line in ("cpu ", "profile ", "start ", "requests ", "kernels ", "ok "):
        assert any(row.startswith(line) for row in proc.stdout.splitlines()), (line, proc.stdout)
