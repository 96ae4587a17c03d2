"""The portable engine build on a CPU without AVX-512: qemu-user emulating a Haswell (AVX2).

    make test-portable    # builds (once) the portable wheel, installs qemu-user, runs this file

The wheel is unpacked into a folder of its own and put first on PYTHONPATH, so the same interpreter
runs it natively and under ``qemu-x86_64 -cpu Haswell``. ggml must pick its haswell kernels there
(QEMU 7.2 emulates AVX2 but not AVX-512) and give the answer the native run gives.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

WHEEL = os.environ.get("SHOPINTENT_PORTABLE_WHEEL", "")
QEMU = shutil.which("qemu-x86_64")

# Greedy continuation of a cart prompt on the packaged base model, through llama.cpp's C API.
PROBE = r"""
import ctypes, json, sys
import llama_cpp as L
L.llama_backend_init()
info = L.llama_print_system_info().decode()
m = L.llama_model_load_from_file(sys.argv[1].encode(), L.llama_model_default_params())
p = L.llama_context_default_params(); p.n_ctx = 256; p.n_threads = p.n_threads_batch = 2
ctx = L.llama_init_from_model(m, p)
vocab = L.llama_model_get_vocab(m)
text = b"Catalog:\nApples (1kg bag)\nWhole milk (1L)\nDish soap\n\nUser:\nadd 2 bottles of milk\n\nAnswer:"
buf = (L.llama_token * 256)()
n = L.llama_tokenize(vocab, text, len(text), buf, 256, True, False)
out = []
tokens = list(buf[:n])
for _ in range(4):
    arr = (L.llama_token * len(tokens))(*tokens)
    assert L.llama_decode(ctx, L.llama_batch_get_one(arr, len(tokens))) == 0
    logits = L.llama_get_logits_ith(ctx, -1)
    nv = L.llama_vocab_n_tokens(vocab)
    best = max(range(nv), key=lambda i: logits[i])
    out.append(best)
    tokens = [best]
print(json.dumps({"system": info, "tokens": out}))
"""


def _run(site: Path, model: str, emulate: bool) -> dict[str, object]:
    cmd = [sys.executable, "-c", PROBE, model]
    if emulate:
        assert QEMU is not None
        cmd = [QEMU, "-cpu", "Haswell", *cmd]
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, check=False)
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stderr[-3000:]}"
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


@pytest.mark.skipif(not QEMU, reason="qemu-x86_64 is not installed (apt-get install qemu-user)")
@pytest.mark.skipif(not WHEEL or not Path(WHEEL).is_file(), reason="SHOPINTENT_PORTABLE_WHEEL names no wheel")
def test_portable_build_runs_on_an_avx2_only_cpu(tmp_path: Path) -> None:
    from app.core.models import packaged_gguf

    with zipfile.ZipFile(WHEEL) as wheel:
        wheel.extractall(tmp_path)
    variants = sorted(p.name for p in (tmp_path / "llama_cpp" / "lib").glob("libggml-cpu-*.so"))
    assert "libggml-cpu-haswell.so" in variants and "libggml-cpu-x64.so" in variants, variants
    model = packaged_gguf("gemma3-270m")

    emulated = _run(tmp_path, model, emulate=True)
    assert "AVX2 = 1" in str(emulated["system"]), emulated["system"]
    assert "AVX512" not in str(emulated["system"]), emulated["system"]  # the haswell variant was chosen
    assert "AMX" not in str(emulated["system"])

    native = _run(tmp_path, model, emulate=False)
    assert emulated["tokens"] == native["tokens"], (emulated, native)


@pytest.mark.skipif(not WHEEL or not Path(WHEEL).is_file(), reason="SHOPINTENT_PORTABLE_WHEEL names no wheel")
def test_portable_build_carries_no_amx_kernels(tmp_path: Path) -> None:
    """No AMX tile instruction in any CPU variant: the path that faults is not compiled at all."""
    objdump = shutil.which("objdump")
    if objdump is None:
        pytest.skip("objdump is not installed (binutils)")
    with zipfile.ZipFile(WHEEL) as wheel:
        wheel.extractall(tmp_path)
    libs = sorted((tmp_path / "llama_cpp" / "lib").glob("libggml*.so"))
    assert libs
    for lib in libs:
        disassembly = subprocess.run([objdump, "-d", str(lib)], capture_output=True, text=True, check=True).stdout
        assert "tileloadd" not in disassembly and "tdpbssd" not in disassembly, lib.name
