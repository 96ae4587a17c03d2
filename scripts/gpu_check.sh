#!/usr/bin/env bash
# The GPU check, for one H100/H200 run (about 7 minutes): a short QLoRA run (NF4 via
# bitsandbytes) proves that path on CUDA; the shipped adapter (artifacts/<name>/peft) is merged to HF
# and quantized with GPTQ 4-bit; then accuracy, latency, throughput and peak VRAM of FP16 against GPTQ
# through the hf backend on CUDA, the study's comparison on our model.
# Results: reports/gpu/ (commit them) and $OUT/reports-gpu.tgz when run on a remote GPU machine that returns $OUT.
#   scripts/gpu_stage.sh          # here, first: stages the base model and wheels under .gpu/
#   scripts/gpu_check.sh          # there, after the parts were carried (see gpu_stage.sh)
# GPU_CHECK_DEVICE=cpu GPU_CHECK_STEPS=3 GPU_CHECK_PY=.venv-train/bin/python scripts/gpu_check.sh   # plumbing dry run here
set -uo pipefail
export PYTHONUNBUFFERED=1
PY=${GPU_CHECK_PY:-python3}
DEVICE=${GPU_CHECK_DEVICE:-cuda}
STEPS=${GPU_CHECK_STEPS:-60}
OUTDIR=$([ "$DEVICE" = cuda ] && echo reports/gpu || echo logs/gpu-dryrun)  # a dry run is no GPU result
mkdir -p "$OUTDIR"
LOG=$OUTDIR/log.txt
: >"$LOG"
say() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$LOG"; }
step() {  # step <seconds> <name> <command...>: time-boxed, logged, never fatal to the steps after it
  local limit=$1 name=$2; shift 2
  local t0=$SECONDS
  say "$name: $*"
  timeout "$limit" "$@" >>"$LOG" 2>&1
  local rc=$?
  say "$name: exit $rc after $((SECONDS - t0)) s"
  echo "$name $rc $((SECONDS - t0))" >>"$OUTDIR/steps.txt"
  return $rc
}
finish() {
  say "done in $SECONDS s"
  # The remote runner returns at most 8 files: one tarball.
  [ -n "${OUT:-}" ] && tar -czf "$OUT/reports-gpu.tgz" -C "$OUTDIR" .
}
trap finish EXIT
: >"$OUTDIR/steps.txt"

# 1. What is there: GPU, torch, and the carried base model and wheels.
if [ "$DEVICE" = cuda ]; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$LOG"
  if [ -d /root/stage ] || [ -d .gpu ]; then
    mkdir -p /root/stage
    cp .gpu/base.part* /root/stage/ 2>/dev/null
    cat $(ls /root/stage/base.part* | sort) >/root/base.gguf
    [ "$(sha256sum /root/base.gguf | cut -d' ' -f1)" = "$(cat .gpu/base.sha256)" ] || { say "base GGUF checksum mismatch: a part is missing"; exit 1; }
    export SHOPINTENT_BASE_GGUF=/root/base.gguf
    $PY -m pip install -q --no-index --no-deps --no-compile --target /tmp/site \
      $(ls .gpu/wheels/*.whl /root/stage/*.whl .gpu/bnb/*.whl 2>/dev/null) 2>&1 | tail -3
    $PY -m pip install -q --no-index --no-deps --no-build-isolation --target /tmp/site .gpu/wheels/pypcre-*.tar.gz 2>&1 | tail -3
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
  fi
fi
$PY -c "import torch, transformers, peft; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'transformers', transformers.__version__, 'peft', peft.__version__)" | tee -a "$LOG"
$PY -c "import bitsandbytes" 2>/dev/null && QLORA=on || QLORA=off
say "QLoRA (bitsandbytes NF4): $QLORA"

# 2. Data, then a short QLoRA run (GPU_CHECK_STEPS steps of 32 rows): proves the NF4 path only.
CONFIG=$OUTDIR/train.yaml
sed -e "s/^steps: .*/steps: $STEPS/" training/configs/gpu-qlora.yaml >"$CONFIG"
echo "qlora: $([ "$DEVICE" = cuda ] && echo $QLORA || echo off)" >>"$CONFIG"
[ "$DEVICE" = cpu ] && printf 'batch_size: 4\nmax_train_rows: 64\neval_every: %s\neval_rows: 8\n' "$STEPS" >>"$CONFIG"
step 60 data $PY -m training.data.generate --config training/configs/data.yaml
step 180 base-hf $PY -m training.models gemma3-270m  # dequantize once (83 s on the H200)
step 150 train $PY -m training.train --config "$CONFIG" && cp runs/gpu-qlora/summary.json "$OUTDIR/train-summary.json"
grep val_loss runs/gpu-qlora/log.jsonl >"$OUTDIR/train-val.jsonl" 2>/dev/null

# 3. The shipped adapter merged to HF, then GPTQ 4-bit (calibrated on our training split).
SHIPPED=training/configs/gpu-shipped.yaml
step 120 merge $PY -m training.export --config "$SHIPPED" --hf-only
step 240 gptq $PY -m training.gptq --config "$SHIPPED" --device "$DEVICE" --samples 128

# 4. FP16 / GPTQ on the same test rows and warm 15-item catalogs; VRAM peak per row.
step ${GPU_BENCH_S:-200} bench $PY -m loadtest.formats --gpu --run runs/gpu-shipped --device "$DEVICE" --out "$OUTDIR/bench" \
  $([ "$DEVICE" = cpu ] && echo --quick)
cat "$OUTDIR/bench.md" 2>/dev/null | tee -a "$LOG"
