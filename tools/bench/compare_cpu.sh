#!/usr/bin/env bash
# DiffusionKernels (cpu backend) against ONNX Runtime on the google/ddpm-cifar10-32 topology with the same weights,
# in one run: PyTorch exports random weights to safetensors and ONNX (and times itself eager, for reference), then
# one bench process alternates the two engines over 5 rounds per batch and prints the median and spread of the ratio.
# Needs Debian's python3-torch and python3-onnx.
#   usage: tools/bench/compare_cpu.sh [batches=1,16] [threads=2] [rounds=5] [iters=3]
set -euo pipefail
cd "$(dirname "$0")/../.."
batches=${1:-1,16}; threads=${2:-2}; rounds=${3:-5}; iters=${4:-3}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
/usr/bin/python3 tools/bench/torch_unet_cpu.py --out "$dir" --threads "$threads" --batches "$batches" | grep -v '^parameters'
dotnet build bench -c Release -v q -nologo > /dev/null
DOTNET_PROCESSOR_COUNT=$threads dotnet run -c Release --no-build --project bench -- compare-cpu "$dir" \
  --batches "$batches" --threads "$threads" --rounds "$rounds" --iters "$iters"
