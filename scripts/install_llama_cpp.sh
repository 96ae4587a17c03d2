#!/usr/bin/env bash
# Install llama-cpp-python into the given venv from a local wheel cache, building the wheel once.
#   scripts/install_llama_cpp.sh .venv                 # the portable build (the default)
#   LLAMA_BUILD=host scripts/install_llama_cpp.sh .venv
#   scripts/install_llama_cpp.sh --wheel-only portable # print the cached wheel's path (building it if needed)
#
# Two builds, both without ggml's AMX matmul path: on AMX hosts (Sapphire Rapids and later) that path
# dies with SIGILL on `tileloadd` in ggml_backend_amx_mul_mat at the first decode (llama.cpp 0.3.36),
# while the same build with AMX compiled out serves normally.
#   portable  GGML_BACKEND_DL + one CPU backend per instruction-set level (x64 ... AVX-512 BF16), the
#             best one chosen at load time by ggml's CPU-feature score: one wheel for every x86-64 CPU,
#             used by make run, CI, the Docker image and the qemu test. The AMX variant (sapphirerapids)
#             is left out of the list. 5 min to build on 2 cores (AVX-512 Xeon).
#   host      -march=native minus AMX, for one machine only: the cache key includes gcc's expansion of
#             -march=native here. 3 min to build.
# The cache key hashes the version, the profile, the CMake arguments and (host only) the CPU, so a wheel
# built for one CPU is never installed on another.
set -euo pipefail
wheel_only=0
if [ "${1:-}" = "--wheel-only" ]; then wheel_only=1; shift; profile=${1:-${LLAMA_BUILD:-portable}}; venv=""
else venv=${1:-.venv}; profile=${LLAMA_BUILD:-portable}; fi
version=${LLAMA_CPP_VERSION:-0.3.36}
root=${SHOPINTENT_WHEELHOUSE:-$HOME/.cache/shopintent/wheels}
here=$(cd "$(dirname "$0")" && pwd)

no_amx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
case "$profile" in
  host)
    cmake_args="-DGGML_NATIVE=ON -DCMAKE_C_FLAGS='$no_amx' -DCMAKE_CXX_FLAGS='$no_amx'"
    # What -march=native means on this machine: the exact -m flags gcc enables.
    native=$(${CC:-cc} -march=native -E -v - </dev/null 2>&1)
    cpu_key=$(grep -m1 cc1 <<<"$native" | grep -o -- ' -m[^ ]*' | sort | tr -d '\n')
    ;;
  portable)
    cmake_args="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON"
    cpu_key="any-x86-64"
    ;;
  *) echo "LLAMA_BUILD must be 'host' or 'portable', not '$profile'" >&2; exit 2 ;;
esac
key=$(printf '%s\n' "$version" "$profile" "$cmake_args" "$cpu_key" "$(sha256sum "$here/patch_llama_cpp_sdist.sh" | cut -c1-16)" \
  | sha256sum | cut -c1-16)
wheelhouse="$root/$version-$profile-$key"

# Already installed from this very cache entry? patch_llama_cpp_sdist.sh puts its name in the wheel.
if [ "$wheel_only" = 0 ] && [ "$(head -n 1 "$venv"/lib/python3*/site-packages/llama_cpp/shopintent-build.txt 2>/dev/null)" = "$(basename "$wheelhouse")" ]; then
  exit 0
fi

wheel=$(ls "$wheelhouse"/llama_cpp_python-"$version"-*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$wheel" ]; then
  echo "building llama-cpp-python $version, profile '$profile' (one time, 3-6 minutes on 2 cores; cached in $wheelhouse)" >&2
  sdist=$("$here/llama_sdist.sh")
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  tar -xzf "$sdist" -C "$tmp"
  src="$tmp/llama_cpp_python-$version"
  "$here/patch_llama_cpp_sdist.sh" "$src" "$profile" "$wheelhouse" >&2
  py=${venv:+$venv/bin/python}
  py=${py:-python3}
  # --no-build-isolation would reuse whatever the venv has; isolation keeps the wheel reproducible.
  CMAKE_ARGS="$cmake_args" CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
    "$py" -m pip wheel --no-cache-dir --no-deps "$src" -w "$tmp/out" >&2
  mkdir -p "$wheelhouse"
  mv "$tmp"/out/llama_cpp_python-*.whl "$wheelhouse/"
  printf 'profile=%s\ncmake_args=%s\ncpu=%s\n' "$profile" "$cmake_args" "$cpu_key" > "$wheelhouse/BUILD.txt"
  wheel=$(ls "$wheelhouse"/llama_cpp_python-"$version"-*.whl | head -n 1)
fi
if [ "$wheel_only" = 1 ]; then echo "$wheel"; exit 0; fi
"$venv/bin/pip" install -q --no-deps --force-reinstall "$wheel"
"$venv/bin/pip" install -q "$wheel"  # its dependencies (numpy, jinja2, diskcache, ...)
