#!/usr/bin/env bash
# Build llama.cpp's own llama-server (the benchmark's peer) from the sources vendored in the
# llama-cpp-python sdist, the same llama.cpp our service links. About 3 minutes on 2 cores.
#   scripts/build_llama_server.sh   ->  .cache/llama.cpp/build/bin/llama-server
set -euo pipefail
version=${LLAMA_CPP_VERSION:-0.3.36}
out=.cache/llama.cpp
[ -x "$out/build/bin/llama-server" ] && exit 0
sdist=$("$(dirname "$0")/llama_sdist.sh")
src=$out/src
if [ ! -f "$src/CMakeLists.txt" ]; then
  tmp=$(mktemp -d)
  tar -xzf "$sdist" -C "$tmp" "llama_cpp_python-$version/vendor/llama.cpp"
  mkdir -p "$src"
  cp -r "$tmp/llama_cpp_python-$version/vendor/llama.cpp/." "$src/"
  rm -rf "$tmp"
fi
cmake -S "$src" -B "$out/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DGGML_NATIVE=ON \
  -DCMAKE_C_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" \
  -DCMAKE_CXX_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" >/dev/null  # ggml's AMX path faults (install_llama_cpp.sh)
cmake --build "$out/build" --target llama-server -j "$(nproc)"
echo "built $out/build/bin/llama-server"
