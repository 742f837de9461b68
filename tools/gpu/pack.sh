#!/usr/bin/env bash
# Builds the GPU bundle into .gpu/ (git-ignored) on a machine with the .NET SDK, for tools/gpu/run.sh to run on a GPU
# host that has no .NET:
#   .gpu/app.tar.xz      dk (the CLI) and dk-tests (the NUnit runner with the test assembly and its fixtures),
#                        published framework-dependent and portable (no apphost, any Linux x64)
#   .gpu/runtime.tar.xz  this machine's .NET runtime: the dotnet muxer, host/fxr and shared/Microsoft.NETCore.App
#   .gpu/manifest.txt    versions, commit, sizes and checksums
# The bundle must stay under 60 MiB so that it travels in one copy.   usage: tools/gpu/pack.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
limit_mib=60
out=.gpu
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

publish() { # project, folder
  dotnet publish "$1" -c Release -o "$stage/app/$2" --no-self-contained -p:UseAppHost=false -p:DebugType=none -nologo -v q
}
echo "pack: publishing dk and dk-tests"
publish src/Cli dk
publish tests/Runner tests
[ -f "$stage/app/dk/dk.dll" ] && [ -f "$stage/app/tests/dk-tests.dll" ] && [ -d "$stage/app/tests/fixtures" ] \
  || { echo "pack: the publish output lacks dk.dll, dk-tests.dll or the fixtures" >&2; exit 1; }

# The runtime the apps run on: the newest Microsoft.NETCore.App of this machine's dotnet, with its muxer and hostfxr.
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
runtime=$(dotnet --list-runtimes | awk '$1 == "Microsoft.NETCore.App" { print $2 }' | sort -V | tail -1)
fxr=$(ls "$dotnet_root/host/fxr" | sort -V | tail -1)
[ -n "$runtime" ] && [ -d "$dotnet_root/shared/Microsoft.NETCore.App/$runtime" ] && [ -n "$fxr" ] \
  || { echo "pack: no Microsoft.NETCore.App runtime under $dotnet_root" >&2; exit 1; }
target=$(sed -nE 's/.*"version": "([0-9]+)\.([0-9]+).*/\1.\2/p' "$stage/app/dk/dk.runtimeconfig.json" | head -1)
case "$runtime" in "$target".*) ;; *) echo "pack: the apps target .NET $target but the newest runtime here is $runtime" >&2; exit 1 ;; esac

mkdir -p "$out"
rm -f "$out/app.tar.xz" "$out/runtime.tar.xz" "$out/manifest.txt"
echo "pack: compressing the apps"
tar -C "$stage" -cf - app | xz -T0 -6 > "$out/app.tar.xz"
echo "pack: compressing the .NET $runtime runtime (hostfxr $fxr)"
tar -C "$dotnet_root" -cf - dotnet "host/fxr/$fxr" "shared/Microsoft.NETCore.App/$runtime" | xz -T0 -6 > "$out/runtime.tar.xz"

size() { stat -c %s "$1"; }
total=$(( $(size "$out/app.tar.xz") + $(size "$out/runtime.tar.xz") ))
{
  echo "commit $(git rev-parse HEAD)$(git diff --quiet HEAD -- src tests tools 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "packed $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "runtime Microsoft.NETCore.App $runtime, hostfxr $fxr"
  for f in app.tar.xz runtime.tar.xz; do echo "$f $(size "$out/$f") bytes sha256 $(sha256sum "$out/$f" | cut -d' ' -f1)"; done
  echo "total $total bytes"
} > "$out/manifest.txt"
cat "$out/manifest.txt"
if [ "$total" -gt $((limit_mib * 1024 * 1024)) ]; then
  echo "pack: the bundle is $((total / 1024 / 1024)) MiB, over the $limit_mib MiB limit" >&2
  exit 1
fi
echo "pack: .gpu/ holds a $((total / 1024 / 1024)) MiB bundle; on the GPU host run: tools/gpu/run.sh OUT_DIR"
