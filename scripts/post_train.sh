#!/usr/bin/env bash
# After `python -m training.train`: ship the adapter, calibrate on val, evaluate on test.
#   scripts/post_train.sh [training/configs/gemma3-270m.yaml]
# The served model is evaluated on the whole test split; the merged formats (the study's per-format
# table) on its first 600 rows, and HF fp32 on its first 300, to keep this under 15 minutes on 2 cores.
set -euo pipefail
config=${1:-training/configs/gemma3-270m.yaml}
manifest=artifacts/gemma3-270m-cart/manifest.json
run=$(.venv-train/bin/python -c "import yaml; print(yaml.safe_load(open('$config'))['out_dir'])")
.venv-train/bin/python -m training.export --config "$config" --ship --formats f16,q8_0,q5_k_m,q4_k_m
.venv/bin/python -m training.calibrate --manifest "$manifest"
.venv/bin/python -m training.evaluate --manifest "$manifest"
.venv/bin/python -m training.evaluate --manifest "$manifest" --limit 600 --out reports/eval-formats \
  --variant "merged f16=$run/gguf/merged-f16.gguf" \
  --variant "merged q8_0=$run/gguf/merged-q8_0.gguf" \
  --variant "merged q5_k_m=$run/gguf/merged-q5_k_m.gguf" \
  --variant "merged q4_k_m (requantized)=$run/gguf/merged-q4_k_m.gguf"
.venv-train/bin/python -m training.evaluate --manifest "$manifest" --limit 300 --out reports/eval-hf \
  --variant "hf fp32=hf:models/hf/gemma3-270m+$run/adapter"
