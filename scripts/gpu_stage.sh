#!/usr/bin/env bash
# Stage, on this machine, what scripts/gpu_check.sh needs and the offline GPU machine lacks, in
# pieces small enough for a 64 MiB upload to an offline GPU machine (the working tree itself is ~16 MB):
#   .gpu/base.partNN  the base GGUF in 45 MB parts (Gemma 3 270M: 6 parts; GPU_BASE=smollm2-135m: 3)
#   .gpu/wheels/      gguf-py (transformers reads GGUF with it), gptqmodel (pure-Python build) and its
#                     small deps, optimum, bitsandbytes (QLoRA's NF4; 43 MB, so it travels alone)
# Then, on the device machine, one call per part moves it aside (the tree is re-sent on every call):
#   run(carry=[".gpu/base.part00"], command="mkdir -p /root/stage && mv .gpu/base.part* /root/stage/")
#   ... the same for each part but the last; then bitsandbytes:
#   run(carry=[".gpu/bnb"], command="mkdir -p /root/stage && mv .gpu/bnb/*.whl /root/stage/")
#   run(carry=[".gpu/base.part05", ".gpu/wheels", ".gpu/base.sha256"], command="scripts/gpu_check.sh", timeout_s=570)
set -euo pipefail
base=${GPU_BASE:-gemma3-270m}
PY=.venv/bin/python
rm -rf .gpu && mkdir -p .gpu/wheels .gpu/bnb
gguf=$($PY -c "from app.core.models import packaged_gguf; print(packaged_gguf('$base'))")
split -b 45M -d "$gguf" .gpu/base.part
sha256sum "$gguf" | cut -d' ' -f1 >.gpu/base.sha256
echo "$base" >.gpu/base.name
$PY -m pip wheel -q --no-deps -w .gpu/wheels .cache/llama.cpp/gguf-py
# gptqmodel's sdist builds as a pure-Python wheel here (its CUDA kernels are optional; the Triton
# and torch kernels need no build); pypcre has a C extension, so its sdist is built there.
$PY -m pip wheel -q --no-deps -w .gpu/wheels gptqmodel==7.7.0 logbar==0.4.15 tokenicer==0.0.14 \
  device-smi==0.5.7 defuser==0.0.28 optimum==2.3.0
$PY -m pip download -q --no-deps --no-binary=:all: -d .gpu/wheels pypcre==0.6.4
$PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_24_x86_64 -d .gpu/bnb bitsandbytes==0.50.2
du -sh .gpu/* | sort -k2
echo "staged for $base; carry the parts one call each (see the header of this script)"
