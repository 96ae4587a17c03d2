#!/usr/bin/env bash
# Print the path of the llama-cpp-python sdist, downloading it once into the shared cache beside the
# engine wheels (install_llama_cpp.sh builds from it; llama_tools.sh and build_llama_server.sh unpack it).
#   sdist=$(scripts/llama_sdist.sh)
set -euo pipefail
version=${LLAMA_CPP_VERSION:-0.3.36}
sdist_dir=${SHOPINTENT_WHEELHOUSE:-$HOME/.cache/shopintent/wheels}/../sdist
sdist="$sdist_dir/llama_cpp_python-$version.tar.gz"
if [ ! -f "$sdist" ]; then
  mkdir -p "$sdist_dir"
  # Only this package from source: --no-binary :all: would build every build tool too (13 min).
  pip download -q --no-deps --no-binary llama-cpp-python "llama-cpp-python==$version" -d "$sdist_dir" >&2
fi
echo "$sdist"
