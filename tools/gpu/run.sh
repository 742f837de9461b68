#!/usr/bin/env bash
# The whole GPU check in one run, on a GPU host that has the NVIDIA driver and (optionally) PyTorch but no .NET. Run it
# from a copy of the repository whose .gpu/ holds the bundle tools/gpu/pack.sh made:
#
#   tools/gpu/run.sh [RESULTS_DIR]        (default .gpu/out)
#
# Stages, each under its own timeout and all within DK_GPU_BUDGET_S seconds (default 450, under 8 minutes):
#   unpack      the .NET runtime and the apps into a private folder; DOTNET_ROOT, invariant globalization, and a
#               libcuda.so link to the driver's libcuda.so.1 on LD_LIBRARY_PATH (ILGPU opens libcuda.so)
#   nvidia-smi  the GPU and driver
#   dk-info     the devices dk finds; the run stops here unless `auto` resolves to CUDA
#   runner      dk-tests starts and lists the Gpu tests
#   gpu-tests   every test of category Gpu on CUDA, DK_REQUIRE_CUDA=1 and skips counted as failures
#   torch       tools/bench/torch_unet.py on CUDA (TF32 on/off, CUDA graph), when PyTorch has CUDA; it also exports
#               its weights and one forward pass, so the dk stages below run the very same model
#   bench-*     dk bench unet: ddpm-cifar10-32 at batch 1, 8, 32, 128; the bundled model at 1 and 16; --profile at 1;
#               both at batch 1 with --cuda-graph off and on (eager vs replayed graph, host µs per forward); cifar at
#               batch 128 in the tf32, fp16 and bf16 tiers
#   sample-*    a 20-step dpmpp_2m sample of 32 images at batch 1, eager and with whole batches replayed as graphs, and
#               that both give the same bits
#   parity      dk forward on the exported weights against PyTorch's fp32 output
# Every stage writes RESULTS_DIR/<stage>.log; RESULTS_DIR/summary.txt says which passed. Exit status 0 only if all did.
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
results=${1:-.gpu/out}
mkdir -p "$results" && results=$(cd "$results" && pwd)
budget=${DK_GPU_BUDGET_S:-450}
t0=$(date +%s)
summary=$results/summary.txt
: > "$summary"
failed=0

elapsed() { echo $(( $(date +%s) - t0 )); }
note() { echo "$*" | tee -a "$summary"; }

# run_stage NAME LIMIT_S COMMAND...: the command under min(LIMIT_S, time left), output in NAME.log, outcome in the summary.
run_stage() {
  local name=$1 limit=$2
  shift 2
  local left=$(( budget - $(elapsed) ))
  if [ "$left" -lt 15 ]; then
    note "$name SKIPPED (the ${budget} s budget is spent)"
    failed=$((failed + 1))
    return 1
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "=== $name (timeout ${limit} s, ${left} s left)"
  local start rc took
  start=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" > "$results/$name.log" 2>&1
  rc=$?
  took=$(( $(date +%s) - start ))
  case "$name" in
    gpu-tests) grep -v '^pass ' "$results/$name.log" | tail -n 60 ;;
    runner) head -n 1 "$results/$name.log" ;;
    *) tail -n 30 "$results/$name.log" ;;
  esac
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

finish() {
  note "total $(elapsed) s; $failed stage(s) failed"
  [ -n "${work:-}" ] && rm -rf "$work"
  if [ "$failed" -eq 0 ]; then note "GPU CHECK PASSED"; exit 0; fi
  note "GPU CHECK FAILED"
  exit 1
}

# ---------------------------------------------------------------- unpack

for f in .gpu/app.tar.xz .gpu/runtime.tar.xz; do
  [ -f "$f" ] || { note "unpack FAILED: $f is missing (run tools/gpu/pack.sh on a machine with the .NET SDK)"; failed=1; finish; }
done
cp .gpu/manifest.txt "$results/bundle-manifest.txt" 2>/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/dk-gpu.XXXXXX")
mkdir -p "$work/dotnet" "$work/lib" "$work/bin"
run_stage unpack 90 sh -c "tar -C '$work/dotnet' -xJf .gpu/runtime.tar.xz && tar -C '$work' -xJf .gpu/app.tar.xz && ls '$work/app/dk/dk.dll' '$work/app/tests/dk-tests.dll'" || finish

export DOTNET_ROOT=$work/dotnet
export PATH=$work/bin:$DOTNET_ROOT:$PATH
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
printf '#!/bin/sh\nexec "%s/dotnet" "%s/app/dk/dk.dll" "$@"\n' "$DOTNET_ROOT" "$work" > "$work/bin/dk"
printf '#!/bin/sh\nexec "%s/dotnet" "%s/app/tests/dk-tests.dll" "$@"\n' "$DOTNET_ROOT" "$work" > "$work/bin/dk-tests"
chmod +x "$work/bin/dk" "$work/bin/dk-tests"

# ILGPU loads libcuda.so; driver installs in containers often ship only libcuda.so.1 (and /usr/local/nvidia is read-only).
libcuda=$(ldconfig -p 2>/dev/null | awk '/libcuda\.so\.1 / && /x86-64/ { print $NF; exit }')
[ -n "$libcuda" ] || libcuda=$(ldconfig -p 2>/dev/null | awk '/libcuda\.so\.1 / { print $NF; exit }')
if [ -z "$libcuda" ]; then
  for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/wsl/lib /usr/local/cuda/compat /usr/lib; do
    if [ -e "$d/libcuda.so.1" ]; then libcuda=$d/libcuda.so.1; break; fi
  done
fi
if [ -n "$libcuda" ]; then
  ln -sf "$libcuda" "$work/lib/libcuda.so"
  export LD_LIBRARY_PATH=$work/lib:$(dirname "$libcuda")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  note "libcuda: $libcuda (linked as $work/lib/libcuda.so)"
else
  note "libcuda: no libcuda.so.1 found (ldconfig -p and the usual driver folders)"
fi

# ---------------------------------------------------------------- device

if command -v nvidia-smi > /dev/null; then
  run_stage nvidia-smi 30 nvidia-smi
else
  note "nvidia-smi FAILED: not on PATH"
  failed=$((failed + 1))
fi
run_stage dk-info 60 dk info
run_stage runner 60 dk-tests --category Gpu --list
head -n 1 "$results/runner.log" | tee -a "$summary"
auto=$(sed -nE 's/^auto -> (.*)$/\1/p' "$results/dk-info.log" 2>/dev/null | head -1)
if [ "${auto#cuda}" = "$auto" ]; then
  note "no CUDA device: dk's 'auto' resolves to '${auto:-nothing}' (see dk-info.log and nvidia-smi.log); the GPU stages cannot run"
  failed=$((failed + 1))
  finish
fi
note "auto -> $auto"

# ---------------------------------------------------------------- tests

export DK_REQUIRE_CUDA=1
run_stage gpu-tests 210 dk-tests --category Gpu --fail-on-skip --results "$results/gpu-tests.xml"
grep -E '^passed [0-9]+, failed [0-9]+, skipped [0-9]+' "$results/gpu-tests.log" | tail -1 | sed 's/^/gpu-tests: /' | tee -a "$summary"

# ---------------------------------------------------------------- PyTorch reference (same weights)

model=ddpm-cifar10-32
if python3 -c 'import sys, numpy, torch; sys.exit(0 if torch.cuda.is_available() else 3)' > /dev/null 2>&1; then
  if run_stage torch 80 python3 tools/bench/torch_unet.py --batches 1,8,32,128 --iters 20 --export "$work/cifar"; then
    model=$work/cifar
  fi
else
  note "torch SKIPPED: python3 with numpy and a CUDA-enabled PyTorch is not available"
fi

# ---------------------------------------------------------------- dk bench

note "bench model: $model"
for b in 1 8 32 128; do
  iters=$(( b <= 8 ? 50 : b <= 32 ? 20 : 10 ))
  run_stage "bench-cifar-b$b" 45 dk bench unet --model "$model" --batch "$b" --iters "$iters" --device cuda
done
run_stage bench-phantom64-b1 40 dk bench unet --model models/phantom64 --batch 1 --iters 30 --device cuda
run_stage bench-phantom64-b16 40 dk bench unet --model models/phantom64 --batch 16 --iters 20 --device cuda
run_stage bench-cifar-b1-profile 45 dk bench unet --model "$model" --batch 1 --iters 20 --device cuda --profile
# Batch-1 latency, eager against a replayed CUDA graph (the cuda graph: line says whether it replayed or why not).
for g in off on; do
  run_stage "bench-cifar-b1-graph-$g" 40 dk bench unet --model "$model" --batch 1 --iters 50 --device cuda --cuda-graph "$g"
  run_stage "bench-phantom64-b1-graph-$g" 40 dk bench unet --model models/phantom64 --batch 1 --iters 50 --device cuda --cuda-graph "$g"
done
# Precision tiers at batch 128 (against the fp32 stage above and PyTorch's TF32-on figure from the torch stage).
for p in tf32 fp16 bf16; do
  run_stage "bench-cifar-b128-$p" 45 dk bench unet --model "$model" --batch 128 --iters 10 --device cuda --precision "$p"
done
# A 20-step dpmpp_2m sample, one image per batch, eager against whole batches replayed as graphs; the samples must be
# the same bits (the sample command's --json line has the wall time).
for g in off on; do
  run_stage "sample-phantom64-b1-graph-$g" 90 dk sample --model models/phantom64 --sampler dpmpp_2m --steps 20 --num-samples 32 \
    --batch-size 1 --device cuda --cuda-graph "$g" --output "$work/sample-graph-$g" --json
done
if [ -f "$work/sample-graph-off/samples.npy" ] && [ -f "$work/sample-graph-on/samples.npy" ]; then
  run_stage sample-graph-bits 30 python3 -c 'import numpy as n, sys; a = n.load(sys.argv[1]); b = n.load(sys.argv[2]); print("identical" if (a == b).all() else f"max diff {abs(a - b).max():.3e}"); sys.exit(0 if (a == b).all() else 1)' \
    "$work/sample-graph-off/samples.npy" "$work/sample-graph-on/samples.npy"
fi
grep -h '^unet forward' "$results"/bench-*.log 2>/dev/null | sed 's/^/bench: /' >> "$summary"
grep -H '^host: ' "$results"/bench-*-graph-*.log 2>/dev/null | sed "s|^$results/||; s/^/graph: /" >> "$summary"

# ---------------------------------------------------------------- parity with PyTorch

if [ -f "$work/cifar/y.npy" ]; then
  run_stage parity 60 sh -c "dk forward --model '$work/cifar' --input '$work/cifar/x.npy' --timesteps '$work/cifar/t.npy' --output '$work/y_dk.npy' --device cuda \
    && python3 -c 'import numpy as n, sys; a = n.load(sys.argv[1]); b = n.load(sys.argv[2]); e = float(abs(a - b).max() / abs(a).max()); print(f\"max |dk - torch| / max |torch| = {e:.3e} (bound 1e-3)\"); sys.exit(0 if e <= 1e-3 else 1)' '$work/cifar/y.npy' '$work/y_dk.npy'"
fi

finish
