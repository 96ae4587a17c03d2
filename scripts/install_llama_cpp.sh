#!/usr/bin/env bash
# Install llama-cpp-python into the given venv from a local wheel cache, building the wheel once.
# The sdist compiles llama.cpp (4-8 minutes on 2 cores); later installs take seconds.
#   scripts/install_llama_cpp.sh .venv
set -euo pipefail
venv=${1:-.venv}
version=${LLAMA_CPP_VERSION:-0.3.36}
wheelhouse=${SHOPINTENT_WHEELHOUSE:-$HOME/.cache/shopintent/wheels}
if "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('llama_cpp_python') != '$version')" 2>/dev/null; then
  exit 0
fi
mkdir -p "$wheelhouse"
wheel=$(ls "$wheelhouse"/llama_cpp_python-"$version"-*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$wheel" ]; then
  echo "building llama-cpp-python $version (one time, about 4-8 minutes; cached in $wheelhouse)"
  "$venv/bin/pip" wheel --no-deps --no-binary llama-cpp-python "llama-cpp-python==$version" -w "$wheelhouse"
  wheel=$(ls "$wheelhouse"/llama_cpp_python-"$version"-*.whl | head -n 1)
fi
"$venv/bin/pip" install --no-deps "$wheel"
