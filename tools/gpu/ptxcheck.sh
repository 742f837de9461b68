#!/usr/bin/env bash
# Checks every GPU kernel for Hopper (sm_90) on a machine without a GPU: ILGPU's PTX for each kernel, exactly as a
# CUDA 13 driver on an sm_90 device would be handed it (bench -- ptx), assembled with ptxas -arch=sm_90 -v. Prints one
# row per kernel (registers, spill bytes, shared memory, stack frame, tensor-core HMMA instructions in the SASS) and
# fails on any assembly error or spill, or where a kernel's cp.async or ldmatrix does not show in its SASS as
# LDGSTS/DEPBAR or LDSM (listed below the table).
#
# ptxas and cuobjdump come from Debian's non-free package nvidia-cuda-toolkit (CUDA 11.8, knows sm_90): the one .deb
# is downloaded with apt against a private lists folder (sources derived from this machine's Debian sources, component
# non-free), unpacked with dpkg -x (never installed) and cached in .cache/cuda-tools (git-ignored). PTXAS=… and
# CUOBJDUMP=… use other copies instead (a CUDA 12+ ptxas reads ILGPU's ISA as it is).
#
# usage: tools/gpu/ptxcheck.sh [--no-build] [--markdown FILE] [--keep DIR] [--opt O1|O2]   (--opt: compare another ILGPU level)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
cache=${DK_CUDA_TOOLS:-$root/.cache/cuda-tools}
build=1 markdown="" keep="" opt=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --markdown) markdown=$2; shift ;;
    --keep) keep=$2; shift ;;
    --opt) opt=(--opt "$2"); shift ;;
    *) echo "ptxcheck: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ---------------------------------------------------------------- ptxas and cuobjdump

debian_nonfree_sources() {
  # deb822 stanzas of the Debian archive, components replaced by non-free.
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN { RS = ""; ORS = "\n\n" } /[Uu][Rr][Ii][Ss]:[^\n]*debian/ { gsub(/Components:[^\n]*/, "Components: non-free"); print }' "$f"
  done > "$1/debian-non-free.sources"
  # one-line entries: deb [options] URI suite components...
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | grep -E '^deb\s.*debian' | sed -E 's/^(deb(\s+\[[^]]*\])?\s+\S+\s+\S+)\s.*$/\1 non-free/' > "$1/debian-non-free.list" || true
  [ -s "$1/debian-non-free.sources" ] || [ -s "$1/debian-non-free.list" ]
}

fetch_tools() {
  local apt=$work/apt
  mkdir -p "$apt"/{sources,lists/partial,cache/archives/partial,deb}
  debian_nonfree_sources "$apt/sources" || { echo "ptxcheck: no Debian archive in this machine's apt sources" >&2; return 1; }
  local opts=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$apt/sources" -o Dir::Etc::Preferences=/dev/null
    -o Dir::Etc::PreferencesParts="$apt/sources" -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache")
  [ "$(id -u)" = 0 ] && opts+=(-o APT::Sandbox::User=root)
  echo "ptxcheck: downloading Debian's nvidia-cuda-toolkit (for ptxas and cuobjdump; not installed) into $cache"
  apt-get "${opts[@]}" -qq update
  (cd "$apt/deb" && apt-get "${opts[@]}" -qq download nvidia-cuda-toolkit)
  dpkg -x "$apt"/deb/nvidia-cuda-toolkit_*.deb "$apt/root"
  mkdir -p "$cache/bin"
  cp "$apt/root/usr/bin/ptxas" "$apt/root/usr/bin/cuobjdump" "$apt/root/usr/bin/nvdisasm" "$cache/bin/"
  basename "$apt"/deb/nvidia-cuda-toolkit_*.deb > "$cache/package"
}

if [ -z "${PTXAS:-}" ]; then
  [ -x "$cache/bin/ptxas" ] && [ -x "$cache/bin/cuobjdump" ] && [ -x "$cache/bin/nvdisasm" ] || fetch_tools
  PTXAS=$cache/bin/ptxas CUOBJDUMP=$cache/bin/cuobjdump
fi
CUOBJDUMP=${CUOBJDUMP:-$(dirname "$PTXAS")/cuobjdump}
export PATH="$(dirname "$CUOBJDUMP"):$PATH" # cuobjdump -sass runs nvdisasm
release=$("$PTXAS" --version | sed -nE 's/.*release ([0-9]+)\.([0-9]+).*/\1.\2/p')
echo "ptxas: CUDA $release ($PTXAS)"

# The newest PTX ISA this ptxas reads (CUDA 11.8 → 7.8; 12.x → 8.x; 13.x → 9.x).
case "$release" in
  11.8) max_isa=7.8 ;;
  12.*) max_isa=8.${release#12.} ;;
  *) max_isa=99.0 ;;
esac

# ---------------------------------------------------------------- PTX

dll=bench/bin/Release/net10.0/DiffusionKernels.Bench.dll
if [ "$build" = 1 ] || [ ! -f "$dll" ]; then dotnet build bench -c Release -v q -nologo > "$work/build.log" || { cat "$work/build.log"; exit 1; }; fi
dotnet "$dll" ptx --output "$work/ptx" --arch 9.0 --driver 13.0 "${opt[@]}" > "$work/emit.log" || { cat "$work/emit.log"; exit 1; }
head -1 "$work/emit.log"

# Instructions or types that need a PTX ISA newer than 7.8 (sm_90 features ILGPU 1.5.3 does not emit today).
newer_than_78='(cp\.async\.bulk|wgmma|stmatrix|elect\.sync|setmaxnreg|st\.async|red\.async|multimem|griddepcontrol|tensormap|mbarrier\.expect_tx|\.b128)'
lowered=0
version_gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > b + 0) }'; }

failed=0
rows=()
notes=()
while IFS=$'\t' read -r kernel grouping file isa _; do
  [ "$kernel" = kernel ] && continue
  ptx=$work/ptx/$file
  if version_gt "$isa" "$max_isa"; then
    if grep -Eq "$newer_than_78" "$ptx"; then
      echo "ptxcheck: $kernel uses PTX newer than ISA $max_isa: $(grep -Eo "$newer_than_78" "$ptx" | sort -u | tr '\n' ' ')(needs a newer ptxas)"
      failed=$((failed + 1)); continue
    fi
    sed -i -E "s/^\.version [0-9.]+/.version $max_isa/" "$ptx"
    lowered=$((lowered + 1))
  fi
  cubin=${ptx%.ptx}.cubin
  if ! "$PTXAS" -arch=sm_90 -v "$ptx" -o "$cubin" > "$work/ptxas.log" 2>&1; then
    echo "ptxcheck: ptxas failed on $kernel:"; sed 's/^/  /' "$work/ptxas.log"
    failed=$((failed + 1)); continue
  fi
  registers=$(sed -nE 's/.*Used ([0-9]+) registers.*/\1/p' "$work/ptxas.log" | head -1)
  smem=$(sed -nE 's/.*registers, ([0-9]+) bytes smem.*/\1/p' "$work/ptxas.log" | head -1)
  stack=$(sed -nE 's/^[^0-9]*([0-9]+) bytes stack frame.*/\1/p' "$work/ptxas.log" | head -1)
  spill=$(sed -nE 's/.* ([0-9]+) bytes spill stores, ([0-9]+) bytes spill loads.*/\1 \2/p' "$work/ptxas.log" | awk '{s += $1 + $2} END {print s + 0}')
  grep -q '\.extern \.shared' "$ptx" && smem="${smem:-0} + dynamic"
  if ! "$CUOBJDUMP" -sass "$cubin" > "$work/sass.txt" 2>&1; then
    echo "ptxcheck: cuobjdump failed on $kernel:"; sed 's/^/  /' "$work/sass.txt" | head -5
    failed=$((failed + 1)); continue
  fi
  hmma=$(grep -c 'HMMA' "$work/sass.txt" || true)
  # Hand-written async copies and matrix loads must reach the SASS as such (LDGSTS + DEPBAR, LDSM), not be lost.
  if grep -Eq 'cp\.async\.c[ag]\.shared\.global' "$ptx"; then
    ldgsts=$(grep -c 'LDGSTS' "$work/sass.txt" || true) depbar=$(grep -c 'DEPBAR' "$work/sass.txt" || true)
    notes+=("$kernel: cp.async → $ldgsts LDGSTS, $depbar DEPBAR")
    if [ "$ldgsts" -eq 0 ] || [ "$depbar" -eq 0 ]; then echo "ptxcheck: $kernel has cp.async in its PTX but no LDGSTS/DEPBAR in its SASS"; failed=$((failed + 1)); fi
  fi
  if grep -q 'ldmatrix\.sync' "$ptx"; then
    ldsm=$(grep -c 'LDSM' "$work/sass.txt" || true)
    notes+=("$kernel: ldmatrix → $ldsm LDSM")
    if [ "$ldsm" -eq 0 ]; then echo "ptxcheck: $kernel has ldmatrix in its PTX but no LDSM in its SASS"; failed=$((failed + 1)); fi
  fi
  approx=$(grep -oE '\b[a-z0-9]+\.approx' "$ptx" | sed 's/\.approx//' | sort -u | paste -sd, - || true)
  rows+=("| $kernel | $grouping | ${registers:-?} | $spill | ${smem:-0} | ${stack:-0} | $hmma | ${approx:--} |")
  if [ "$spill" -gt 0 ]; then echo "ptxcheck: $kernel spills $spill bytes"; failed=$((failed + 1)); fi
done < "$work/ptx/kernels.tsv"

table=$work/table.md
{
  echo "| kernel | launch | registers | spill bytes | shared memory (bytes) | stack frame (bytes) | HMMA | .approx PTX |"
  echo "|---|---|---:|---:|---:|---:|---:|---|"
  printf '%s\n' "${rows[@]}"
} > "$table"
cat "$table"
[ "${#notes[@]}" -gt 0 ] && printf '%s\n' "${notes[@]}"
[ "$lowered" -gt 0 ] && echo "ptxas $release reads PTX ISA ≤ $max_isa: the .version line of $lowered kernels was lowered to $max_isa (none uses an instruction newer than $max_isa)."
[ -n "$markdown" ] && cp "$table" "$markdown"
[ -n "$keep" ] && { mkdir -p "$keep"; cp "$work"/ptx/* "$keep"/; }
echo "ptxcheck: ${#rows[@]} kernels assembled for sm_90, $failed failed"
[ "$failed" -eq 0 ]
