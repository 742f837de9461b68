#!/usr/bin/env bash
# Retrains the bundled model (models/phantom64) on a GPU host in one run, from a copy of the repository whose .gpu/ holds
# the bundle tools/gpu/pack.sh made (dk and the .NET runtime; the host needs the NVIDIA driver and PyTorch, not .NET):
#
#   tools/gpu/train.sh [RESULTS_DIR]        (default .gpu/out)
#
# Stages, each under its own timeout and all within DK_TRAIN_BUDGET_S seconds (default 450, under 8 minutes):
#   unpack     the .NET runtime and dk into a private folder (as tools/gpu/run.sh does); without a bundle, $DK or a dk
#              on PATH or the tree's Release build; without any dk, DK_TRAIN_DATA must name the phantoms and the
#              checks are skipped
#   torch      the PyTorch and GPU that will train (nvidia-smi, torch.cuda)
#   phantoms   dk phantoms --n DK_TRAIN_PHANTOMS (default 50000, indices 0… of seed 0) into a scratch folder
#   train      tools/train/train_phantom.py for the time left minus DK_TRAIN_RESERVE_S (default 90) kept for the stages
#              below; TF32, batch DK_TRAIN_BATCH (default 128). It starts from DK_TRAIN_RESUME (a
#              checkpoint.pt or a model folder; 'none' for scratch), else .gpu/train/checkpoint.pt when present (the
#              previous run's checkpoint, carried back), else the committed models/phantom64
#   info       dk info --model on the new folder: it loads in dk
#   study      dk study: dpmpp_2m and dpmpp_2m_sde at 10 and 20 steps, 32 samples against 512 held-out phantoms (no
#              ODE reference: the full study with it runs later on any machine)
#   sample     dk sample: 16 samples (DPM-Solver++(2M) SDE, 20 steps, seed 0) as the model card's samples.png
#   pack       RESULTS_DIR/phantom64.tar: model/ (config.json, scheduler_config.json, the F16 weights, training_log.json,
#              samples.png) and eval/ (study.md, study.csv, quality_vs_nfe.png, info.txt)
# RESULTS_DIR ends with four files: summary.txt (which stages passed, the step rate, loss and study table), stages.log
# (every stage's output), checkpoint.pt (fp32 training + EMA weights: copy it to .gpu/train/checkpoint.pt to continue in
# the next run) and phantom64.tar. Exit status 0 only if every stage passed.
# More settings: DK_TRAIN_CHANNELS (e.g. 32,64,128,128: a wider model, from scratch unless DK_TRAIN_RESUME names a
# checkpoint of that width), DK_TRAIN_ARGS (more train_phantom.py options, e.g. "--lr 4e-4 --compile"), DK_TRAIN_DATA (a
# phantom .npy instead of generating one), DK_TRAIN_DEVICE (dk's device for the checks, default auto),
# DK_TRAIN_EVAL_SAMPLES and DK_TRAIN_EVAL_STEPS (the study's sample count and step counts, default 32 and 10,20), PYTHON
# (default python3), DK_TRAIN_ALLOW_CPU=1 (let PyTorch train on the CPU: for trying this script without a GPU).
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
results=${1:-.gpu/out}
mkdir -p "$results" && results=$(cd "$results" && pwd)
budget=${DK_TRAIN_BUDGET_S:-450}
reserve=${DK_TRAIN_RESERVE_S:-90}
phantoms=${DK_TRAIN_PHANTOMS:-50000}
batch=${DK_TRAIN_BATCH:-128}
python=${PYTHON:-python3}
dk_device=${DK_TRAIN_DEVICE:-auto}
eval_samples=${DK_TRAIN_EVAL_SAMPLES:-32}
eval_steps=${DK_TRAIN_EVAL_STEPS:-10,20}
t0=$(date +%s)
summary=$results/summary.txt
stages=$results/stages.log
: > "$summary"
: > "$stages"
rm -rf "$results/model" "$results/phantom64.tar" "$results/checkpoint.pt"
failed=0
export PYTHONUNBUFFERED=1

elapsed() { echo $(( $(date +%s) - t0 )); }
note() { echo "$*" | tee -a "$summary"; }

# run_stage NAME LIMIT_S COMMAND...: the command under min(LIMIT_S, time left), its output appended to stages.log, its
# outcome in the summary.
run_stage() {
  local name=$1 limit=$2
  shift 2
  local left=$(( budget - $(elapsed) ))
  if [ "$left" -lt 10 ]; then
    note "$name SKIPPED (the ${budget} s budget is spent)"
    failed=$((failed + 1))
    return 1
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "=== $name (timeout ${limit} s, ${left} s left)" | tee -a "$stages"
  local offset start rc took
  offset=$(stat -c %s "$stages")
  start=$(date +%s)
  timeout --kill-after=15 "$limit" "$@" >> "$stages" 2>&1
  rc=$?
  took=$(( $(date +%s) - start ))
  tail -c +$((offset + 1)) "$stages" | tail -n 25
  if [ "$rc" -eq 0 ]; then
    note "$name PASSED in ${took} s"
  elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    note "$name TIMED OUT after ${took} s"
    failed=$((failed + 1))
  else
    note "$name FAILED (exit $rc) in ${took} s"
    failed=$((failed + 1))
  fi
  return "$rc"
}

# The lines of stages.log that a stage printed after the last "=== NAME" header.
stage_output() { awk -v h="=== $1 " 'index($0, h) == 1 { buf = ""; on = 1; next } /^=== / { on = 0 } on { buf = buf $0 "\n" } END { printf "%s", buf }' "$stages"; }

finish() {
  note "total $(elapsed) s; $failed stage(s) failed"
  [ -n "${work:-}" ] && rm -rf "$work"
  if [ "$failed" -eq 0 ]; then note "TRAINING RUN PASSED"; exit 0; fi
  note "TRAINING RUN FAILED"
  exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/dk-train.XXXXXX")
mkdir -p "$work/dotnet" "$work/lib" "$work/bin"

# ---------------------------------------------------------------- dk

dk_found=0
if [ -f .gpu/app.tar.xz ] && [ -f .gpu/runtime.tar.xz ]; then
  { echo "=== bundle"; cat .gpu/manifest.txt 2>/dev/null; } >> "$stages"
  if run_stage unpack 90 sh -c "tar -C '$work/dotnet' -xJf .gpu/runtime.tar.xz && tar -C '$work' -xJf .gpu/app.tar.xz && ls '$work/app/dk/dk.dll'"; then
    export DOTNET_ROOT=$work/dotnet
    export PATH=$DOTNET_ROOT:$PATH
    export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
    printf '#!/bin/sh\nexec "%s/dotnet" "%s/app/dk/dk.dll" "$@"\n' "$DOTNET_ROOT" "$work" > "$work/bin/dk"
    dk_found=1
  fi
elif [ -n "${DK:-}" ]; then
  printf '#!/bin/sh\nexec %s "$@"\n' "$DK" > "$work/bin/dk"
  dk_found=1
elif command -v dk > /dev/null; then
  printf '#!/bin/sh\nexec "%s" "$@"\n' "$(command -v dk)" > "$work/bin/dk"
  dk_found=1
else
  built=$(ls -t src/Cli/bin/Release/net*/dk.dll 2>/dev/null | head -1)
  if [ -n "$built" ] && command -v dotnet > /dev/null; then
    printf '#!/bin/sh\nexec dotnet "%s" "$@"\n' "$repo/$built" > "$work/bin/dk"
    dk_found=1
  fi
fi
if [ "$dk_found" -eq 1 ]; then
  chmod +x "$work/bin/dk"
  export PATH=$work/bin:$PATH
  note "dk: $(sed -n 2p "$work/bin/dk" | sed 's/^exec //')"
else
  note "dk: none (no .gpu/ bundle from tools/gpu/pack.sh, no \$DK, no dk on PATH, no Release build): the dk stages are skipped"
  failed=$((failed + 1))
fi

# ILGPU loads libcuda.so; driver installs in containers often ship only libcuda.so.1.
libcuda=$(ldconfig -p 2>/dev/null | awk '/libcuda\.so\.1 / && /x86-64/ { print $NF; exit }')
if [ -z "$libcuda" ]; then
  for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/wsl/lib /usr/local/cuda/compat /usr/lib; do
    if [ -e "$d/libcuda.so.1" ]; then libcuda=$d/libcuda.so.1; break; fi
  done
fi
if [ -n "$libcuda" ]; then
  ln -sf "$libcuda" "$work/lib/libcuda.so"
  export LD_LIBRARY_PATH=$work/lib:$(dirname "$libcuda")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi

# ---------------------------------------------------------------- PyTorch

if command -v nvidia-smi > /dev/null; then
  run_stage nvidia-smi 30 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
fi
# Exit 0 with CUDA, or without it when DK_TRAIN_ALLOW_CPU=1 (then "device cpu"); 3 otherwise.
torch_check='import os, sys, torch; cuda = torch.cuda.is_available(); print("torch", torch.__version__, "cuda", torch.version.cuda, "device", torch.cuda.get_device_name(0) if cuda else "cpu"); sys.exit(0 if cuda or os.environ.get("DK_TRAIN_ALLOW_CPU") == "1" else 3)'
if ! run_stage torch 60 "$python" -c "$torch_check"; then
  note "torch: $python has no CUDA-enabled PyTorch; nothing to train on (DK_TRAIN_ALLOW_CPU=1 trains on the CPU)"
  finish
fi
train_device=()
if stage_output torch | grep -q 'device cpu$'; then
  note "torch: no CUDA device; training on the CPU (DK_TRAIN_ALLOW_CPU=1)"
  train_device=(--device cpu)
fi

# ---------------------------------------------------------------- data

if [ -n "${DK_TRAIN_DATA:-}" ]; then
  data=$DK_TRAIN_DATA
  [ -f "$data" ] || { note "phantoms FAILED: DK_TRAIN_DATA=$data is not a file"; failed=$((failed + 1)); finish; }
  note "phantoms: $data (DK_TRAIN_DATA)"
elif [ "$dk_found" -eq 1 ]; then
  data=$work/phantoms.npy
  run_stage phantoms 120 dk phantoms --n "$phantoms" --size 64 --seed 0 --output "$data" || finish
else
  note "phantoms FAILED: no dk to make them and no DK_TRAIN_DATA"
  failed=$((failed + 1))
  finish
fi

# ---------------------------------------------------------------- train

resume=${DK_TRAIN_RESUME:-}
if [ -z "$resume" ]; then
  if [ -n "${DK_TRAIN_CHANNELS:-}" ]; then resume=none
  elif [ -f .gpu/train/checkpoint.pt ]; then resume=.gpu/train/checkpoint.pt
  else resume=models/phantom64
  fi
fi
train_args=(--data "$data" --out "$results/model" --batch "$batch" "${train_device[@]}")
[ "$resume" != none ] && train_args+=(--resume "$resume")
[ -n "${DK_TRAIN_CHANNELS:-}" ] && train_args+=(--channels "$DK_TRAIN_CHANNELS")
# shellcheck disable=SC2206 # DK_TRAIN_ARGS is a list of options, split on spaces on purpose
[ -n "${DK_TRAIN_ARGS:-}" ] && train_args+=(${DK_TRAIN_ARGS})
train_s=$(( budget - $(elapsed) - reserve ))
if [ "$train_s" -lt 60 ]; then
  note "train SKIPPED: ${train_s} s left for training after the ${reserve} s reserve (DK_TRAIN_BUDGET_S=$budget)"
  failed=$((failed + 1))
  finish
fi
# The script stops itself at --minutes (start-up included) and saves; the stage's timeout leaves 30 s beyond that.
minutes=$(awk -v s="$train_s" 'BEGIN { printf "%.2f", (s - 30) / 60 }')
note "train: from ${resume}, batch $batch, --minutes $minutes"
run_stage train "$train_s" "$python" tools/train/train_phantom.py "${train_args[@]}" --minutes "$minutes"
stage_output train | grep -E '^([0-9,]+ parameters|schedule:|note:|stopped:|run:|saved:)' | sed 's/^/train: /' >> "$summary"
stage_output train | grep -E '^step [0-9]+ ' | tail -n 3 | sed 's/^/train: /' >> "$summary"
if [ ! -f "$results/model/diffusion_pytorch_model.safetensors" ]; then
  note "train wrote no model"
  finish
fi
mv -f "$results/model/checkpoint.pt" "$results/checkpoint.pt" 2>/dev/null

# ---------------------------------------------------------------- checks in dk

mkdir -p "$work/eval"
if [ "$dk_found" -eq 1 ]; then
  run_stage info 60 dk info --model "$results/model" && stage_output info > "$work/eval/info.txt"
  study=(dk study --model "$results/model" --samplers dpmpp_2m,dpmpp_2m_sde --steps "$eval_steps" --num-samples "$eval_samples"
    --reference-count 512 --ode-tolerance 0 --output "$work/eval/study" --force)
  if ! run_stage study 120 "${study[@]}" --device "$dk_device" && [ "$dk_device" != cpu ]; then
    run_stage study-cpu 120 "${study[@]}" --device cpu   # the model is what is checked here, not dk's GPU path
  fi
  if [ -f "$work/eval/study/study.md" ]; then
    mv "$work/eval/study/"* "$work/eval/" && rmdir "$work/eval/study"
    awk '{ print "study: " $0 }' "$work/eval/study.md" >> "$summary"
  fi
  sample=(dk sample --model "$results/model" --num-samples 16 --steps 20 --seed 0 --output "$work/sample" --force)
  if ! run_stage sample 60 "${sample[@]}" --device "$dk_device" && [ "$dk_device" != cpu ]; then
    run_stage sample-cpu 60 "${sample[@]}" --device cpu
  fi
  [ -f "$work/sample/grid.png" ] && cp "$work/sample/grid.png" "$results/model/samples.png"
fi

# ---------------------------------------------------------------- pack

mkdir -p "$work/pack"
mv "$results/model" "$work/pack/model"
mv "$work/eval" "$work/pack/eval"
if tar -C "$work/pack" -cf "$results/phantom64.tar" model eval; then
  note "pack: $results/phantom64.tar ($(tar -tf "$results/phantom64.tar" | grep -v '/$' | tr '\n' ' '))"
else
  note "pack FAILED"
  failed=$((failed + 1))
  mv "$work/pack/model" "$results/model"
fi
[ -f "$results/checkpoint.pt" ] && note "checkpoint: $results/checkpoint.pt ($(awk -v b="$(stat -c %s "$results/checkpoint.pt")" 'BEGIN { printf "%.1f", b / 1048576 }') MiB; copy it to .gpu/train/checkpoint.pt to continue)"
finish
