#!/usr/bin/env bash
# After `python -m training.train`: ship the adapter, calibrate on val, evaluate every format on test.
#   scripts/post_train.sh [training/configs/gemma3-270m.yaml]
set -euo pipefail
config=${1:-training/configs/gemma3-270m.yaml}
manifest=artifacts/gemma3-270m-cart/manifest.json
run=$(.venv-train/bin/python -c "import yaml,sys; print(yaml.safe_load(open('$config'))['out_dir'])")
.venv-train/bin/python -m training.export --config "$config" --ship --formats f16,q8_0,q5_k_m,q4_k_m
.venv/bin/python -m training.calibrate --manifest "$manifest"
.venv/bin/python -m training.evaluate --manifest "$manifest" \
  --variant "merged f16=$run/gguf/merged-f16.gguf" \
  --variant "merged q8_0=$run/gguf/merged-q8_0.gguf" \
  --variant "merged q5_k_m=$run/gguf/merged-q5_k_m.gguf" \
  --variant "merged q4_k_m (requantized)=$run/gguf/merged-q4_k_m.gguf"
