#!/usr/bin/env bash
# The google/ddpm-cifar10-32 topology on this machine's CPU, in one run: DiffusionKernels (cpu backend),
# ONNX Runtime (same weights, exported by PyTorch) and PyTorch eager, all on 2 threads.
# Needs Debian's python3-torch and python3-onnx.   usage: tools/bench/compare_cpu.sh [batches] [threads]
set -euo pipefail
cd "$(dirname "$0")/../.."
batches=${1:-1,16}; threads=${2:-2}
dir=$(mktemp -d)
/usr/bin/python3 tools/bench/torch_unet_cpu.py --out "$dir" --threads "$threads" --batches "$batches" | grep -v '^parameters'
dotnet run -c Release --project bench -- onnx "$dir/model.onnx" --batches "$batches" --threads "$threads"
for b in ${batches//,/ }; do
  DOTNET_PROCESSOR_COUNT=$threads dotnet run -c Release --project src/Cli -- bench unet --model "$dir" --batch "$b" --iters 5 --device cpu | tail -1 | sed "s/^/dk cpu batch $b: /"
done
rm -rf "$dir"
