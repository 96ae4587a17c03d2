#!/usr/bin/env bash
# Unpack llama.cpp's Python converters (convert_hf_to_gguf.py, convert_lora_to_gguf.py, conversion/,
# gguf-py/) from the llama-cpp-python sdist: they ship only there, and PyPI's gguf does not match them.
#   scripts/llama_tools.sh   ->  .cache/llama.cpp/
set -euo pipefail
version=${LLAMA_CPP_VERSION:-0.3.36}
out=.cache/llama.cpp
[ -f "$out/convert_lora_to_gguf.py" ] && exit 0
mkdir -p "$out"
sdist=$("$(dirname "$0")/llama_sdist.sh")
tmp=$(mktemp -d)
tar -xzf "$sdist" -C "$tmp" --wildcards \
  "llama_cpp_python-$version/vendor/llama.cpp/convert_*.py" \
  "llama_cpp_python-$version/vendor/llama.cpp/conversion/*" \
  "llama_cpp_python-$version/vendor/llama.cpp/gguf-py/*"
cp -r "$tmp/llama_cpp_python-$version/vendor/llama.cpp/." "$out/"
rm -rf "$tmp"
echo "llama.cpp converters in $out"
