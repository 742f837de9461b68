#!/usr/bin/env bash
# Peak memory of a streamed dataset run against its sample count: dk sample --chunk-size writes each chunk as it is
# drawn, so the peak resident memory should not grow with --num-samples. Runs a 64×64 Gaussian-mixture model (cheap
# per sample, so 100,000 samples take minutes on a CPU) for each count and prints dk's own peak working set and the
# kernel's maximum resident set size (/usr/bin/time). Needs a Release build of src/Cli.
#   usage: tools/bench/dataset-memory.sh [counts (comma-separated)] [chunk size]
set -euo pipefail
cd "$(dirname "$0")/../.."
counts=${1:-1000,100000}; chunk=${2:-1000}
dk=src/Cli/bin/Release/net10.0/dk.dll
[ -f "$dk" ] || { echo "build first: dotnet build src/Cli -c Release" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf '{"shape": [1, 64, 64], "weights": [0.3, 0.7], "means": [-0.8, 0.6], "stds": [0.1, 0.2]}\n' > "$dir/gmm.json"
printf '%-12s %-10s %-16s %-18s %-12s %s\n' samples chunk "dk peak (MiB)" "max RSS (MiB)" "seconds" "dataset size"
for n in ${counts//,/ }; do
  out="$dir/n$n"
  /usr/bin/time -f '%M %e' -o "$dir/time" dotnet "$dk" sample --model "gmm:$dir/gmm.json" --sampler euler --steps 4 \
    --num-samples "$n" --chunk-size "$chunk" --batch-size 100 --device cpu --output "$out" > "$dir/log"
  peak=$(grep -o 'peak memory [0-9,]* MiB' "$dir/log" | tr -dc '0-9')
  read -r rss_kb secs < "$dir/time"
  printf '%-12s %-10s %-16s %-18s %-12s %s\n' "$n" "$chunk" "$peak" "$((rss_kb / 1024))" "$secs" "$(du -sh "$out" | cut -f1)"
  rm -rf "$out"
done
