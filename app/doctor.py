"""Will the CPU engine run on this host? ``python -m app.doctor`` (``make doctor``).

Prints the CPU's instruction-set level, how the llama.cpp engine was built and which of its CPU
kernels it selected, then loads the served model in a child process and times a few requests.

The service runs the same probe before it takes traffic (``SHOPINTENT_PREFLIGHT``, on by default):
a llama.cpp build whose kernels the CPU cannot run dies of a signal at its first decode (SIGILL in
ggml's AMX matmul on Sapphire Rapids hosts with 0.3.36's ``-march=native``), and a signal in the
serving process would take it down with no word of why. In a child it becomes a clear message and
exit status 4.

    python -m app.doctor            # report, then probe the served model in a child process
    python -m app.doctor --probe    # the child: start the backend from SHOPINTENT_* settings, time it
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

EXIT_HOST_UNSUITED = 4  # the engine's probe died of a signal: this build does not suit this CPU
PROBE_TIMEOUT_S = 600.0  # a first start builds the merged model (~15 s) and may assemble the base

# x86-64 micro-architecture levels (psABI), by the /proc/cpuinfo flags that define them.
_LEVELS = (
    ("x86-64-v2", ("cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3")),
    ("x86-64-v3", ("avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "movbe", "xsave")),
    ("x86-64-v4", ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")),
)
# The flags that decide which ggml CPU kernels can run.
_KERNEL_FLAGS = ("avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512vbmi", "avx512_vnni", "avx512_bf16",
                 "amx_tile", "amx_int8", "amx_bf16")


@dataclass(frozen=True)
class CpuInfo:
    model: str
    flags: frozenset[str]

    @property
    def level(self) -> str:
        level = "x86-64-v1"
        for name, needed in _LEVELS:
            if not self.flags.issuperset(needed):
                break
            level = name
        return level

    @property
    def kernel_flags(self) -> list[str]:
        return [f for f in _KERNEL_FLAGS if f in self.flags]

    def describe(self) -> str:
        return f"{self.model or 'unknown CPU'}, {self.level}, {os.cpu_count()} cores; {' '.join(self.kernel_flags) or 'no AVX2'}"


def cpu_info(cpuinfo: Path = Path("/proc/cpuinfo")) -> CpuInfo:
    model, flags = "", frozenset[str]()
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return CpuInfo("", flags)
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and not model:
            model = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = frozenset(value.split())
    return CpuInfo(model, flags)


def build_info() -> dict[str, str]:
    """How the installed llama-cpp-python was built (scripts/install_llama_cpp.sh), without loading it."""
    import importlib.util

    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        return {"engine": "llama-cpp-python is not installed (make run installs it)"}
    package = Path(spec.origin).parent
    info = {"package": str(package)}
    marker = package / "shopintent-build.txt"
    if marker.is_file():
        lines = marker.read_text(encoding="utf-8").splitlines()
        info["build"] = lines[0]  # the wheel cache entry: version, profile, key
        info.update(line.split("=", 1) for line in lines[1:] if "=" in line)  # type: ignore[misc]
    else:
        info["profile"] = "unknown (not built by scripts/install_llama_cpp.sh)"
    variants = sorted(p.name.removeprefix("libggml-cpu-").split(".so")[0] for p in (package / "lib").glob("libggml-cpu-*.so"))
    if variants:
        info["variants"] = " ".join(variants)
    return info


def _fix_hint(build: dict[str, str]) -> str:
    if build.get("profile") == "portable":
        return ("pin a lower kernel level, e.g. SHOPINTENT_CPU_VARIANT=haswell (one of: "
                f"{build.get('variants', 'see make doctor')}), and run `make doctor` to check it")
    return ("rebuild the engine for every x86-64 CPU with `make engine LLAMA_BUILD=portable` "
            "(runtime-dispatched kernels, no AMX), then `make doctor`")


def _signal_name(returncode: int) -> str:
    """The signal a child died of, from its (negative) return code."""
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def preflight(timeout_s: float = PROBE_TIMEOUT_S) -> int:
    """Start the backend once in a child process. 0 if it served; else the exit status to stop with."""
    try:
        proc = subprocess.run([sys.executable, "-m", "app.doctor", "--probe", "--quiet"], timeout=timeout_s,
                              check=False)
    except subprocess.TimeoutExpired:
        print(f"shopintent: the engine's warm-up did not finish in {timeout_s:.0f} s (pre-flight child stopped); "
              "run `make doctor` to see where it hangs", file=sys.stderr, flush=True)
        return 3
    if proc.returncode == 0:
        return 0
    if proc.returncode > 0:  # an ordinary start-up error: the child has printed it
        return 3
    name = _signal_name(proc.returncode)
    build = build_info()
    print(
        f"shopintent: the engine died of {name} in its warm-up decode (run in a child process), so the service "
        "did not start.\n"
        f"  CPU:   {cpu_info().describe()}\n"
        f"  build: {', '.join(f'{k}={v}' for k, v in build.items() if k != 'package')}\n"
        "  The llama.cpp build uses instructions or kernels that fault on this CPU "
        "(known: ggml's AMX matmul on Sapphire Rapids-class hosts).\n"
        f"  Fix: {_fix_hint(build)}.",
        file=sys.stderr, flush=True,
    )
    return EXIT_HOST_UNSUITED


def _probe(quiet: bool) -> int:
    """The child: the service's own backend, from its own settings, warmed up; timed unless ``quiet``
    (the service's pre-flight needs only the start, where a bad kernel faults)."""
    from app.backends import make_backend
    from app.backends.base import Query
    from app.core.config import get_settings

    settings = get_settings()
    started = time.perf_counter()
    backend = make_backend(settings)
    backend.start()  # loads, then decodes its warm-up requests: where a bad kernel faults
    loaded = time.perf_counter() - started
    if quiet:
        backend.close()
        return 0
    classify_sync = getattr(backend, "classify_sync", None)
    timings: list[float] = []
    if classify_sync is not None:
        catalog = ("Apples (1kg bag)", "Whole milk (1L)", "Dish soap", "USB-C charger", "Toilet paper (12 rolls)")
        for i, text in enumerate(("dodaj 2 jabuke u košaricu", "quita el cargador del carrito", "add a dish soap",
                                  "is the milk fresh?", "remove 3 apples")):
            t0 = time.perf_counter()
            classify_sync([Query(text, (*catalog, f"Gift card {i}"))], timeout_s=60)  # a fresh catalog each time
            timings.append((time.perf_counter() - t0) * 1000)
    system = ""
    if settings.backend == "llamacpp":
        import llama_cpp

        system = llama_cpp.llama_print_system_info().decode(errors="replace").strip()
    backend.close()
    print(json.dumps({"backend": settings.backend, "model": backend.model_name, "format": backend.format,
                      "start_s": round(loaded, 2), "request_ms": [round(t, 1) for t in timings],
                      "llama.cpp": system}))
    return 0


def main(argv: list[str]) -> int:
    if "--probe" in argv:
        return _probe(quiet="--quiet" in argv)
    cpu = cpu_info()
    print(f"cpu      {cpu.describe()}")
    for key, value in build_info().items():
        print(f"{key:<8} {value}")
    print("probe    starting the served model in a child process ...", flush=True)
    proc = subprocess.run([sys.executable, "-m", "app.doctor", "--probe"], capture_output=True, text=True,
                          timeout=PROBE_TIMEOUT_S, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        if proc.returncode < 0:
            print(f"probe    FAILED: died of {_signal_name(proc.returncode)}. Fix: {_fix_hint(build_info())}.")
            return EXIT_HOST_UNSUITED
        print(f"probe    FAILED with exit status {proc.returncode} (the error is above)")
        return 3
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    times = sorted(report["request_ms"])
    print(f"model    {report['model']} ({report['format']}, {report['backend']} backend)")
    print(f"start    {report['start_s']} s (load + warm-up)")
    if times:
        print(f"requests {len(times)} with fresh catalogs: median {times[len(times) // 2]:.0f} ms, max {times[-1]:.0f} ms")
    if report["llama.cpp"]:
        print(f"kernels  {report['llama.cpp']}")
    print("ok       this host runs the engine")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
