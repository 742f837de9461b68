#!/usr/bin/env bash
# Throughput of a sharded dataset run against the number of worker processes on this machine: W processes run
# dk sample --shard i/W at once (as W pods of a Kubernetes Indexed Job or W tasks of a Slurm array would, here on one
# host), then dk merge joins them and the result is checked against one unsharded run byte for byte.
# Needs a Release build of src/Cli.
#   usage: tools/bench/dataset-scaling.sh [samples] [workers (comma-separated)] [threads per worker (0 = all)] [model]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-64}; workers=${2:-1,2,4}; threads=${3:-0}; model=${4:-models/phantom64}
dk=src/Cli/bin/Release/net10.0/dk.dll
[ -f "$dk" ] || { echo "build first: dotnet build src/Cli -c Release" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
common=(sample --model "$model" --sampler euler --steps 10 --num-samples "$n" --chunk-size 4 --batch-size 4 --seed 1 --device cpu)
limit=()
[ "$threads" = 0 ] || limit=(env "DOTNET_PROCESSOR_COUNT=$threads")
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); model $model, $n samples, euler 10 steps, threads per worker: ${threads/#0/all}"
printf '%-8s %-10s %-12s %-10s %s\n' workers seconds "images/s" speed-up "merged = single run"
base=""
for w in ${workers//,/ }; do
  start=$(date +%s.%N)
  pids=()
  for ((i = 0; i < w; i++)); do
    "${limit[@]}" dotnet "$dk" "${common[@]}" --shard "$i/$w" --output "$dir/w$w/shard-$i" > "$dir/w$w-$i.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  secs=$(echo "$(date +%s.%N) - $start" | bc -l)
  dotnet "$dk" merge "$dir/w$w"/shard-* --output "$dir/w$w/merged" > /dev/null
  if [ -z "$base" ]; then
    base=$secs
    cp -r "$dir/w$w/merged" "$dir/reference"
  fi
  same=$(diff -r --exclude=.dk-output "$dir/reference" "$dir/w$w/merged" > /dev/null && echo yes || echo NO)
  printf '%-8s %-10.1f %-12.2f %-10.2f %s\n' "$w" "$secs" "$(echo "$n / $secs" | bc -l)" "$(echo "$base / $secs" | bc -l)" "$same"
done
