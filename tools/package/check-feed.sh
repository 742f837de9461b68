#!/usr/bin/env bash
# The packages as a user gets them: packs the library and the dk tool into a local folder feed, builds a fresh console
# app that references the DiffusionKernels package from that feed and holds exactly the README's first library program
# (examples/QuickStart/Program.cs), installs dk from the feed as a .NET tool, and checks that the app's samples.npy and
# grid.png are byte-identical to `dk sample` with the same settings (both find the bundled model next to themselves).
# Usage: tools/package/check-feed.sh [WORK_DIR]   (default: a fresh temporary folder; other package sources stay on)
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="${1:-$(mktemp -d)}"
mkdir -p "$work"
feed="$work/feed" app="$work/app" tool="$work/tool" out="$work/out"
rm -rf "$feed" "$app" "$tool" "$out"
version="0.1.0-check.$(date +%s)"
# The check's packages leave the global package cache with the run (each run has its own version).
cache="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
trap 'for id in diffusionkernels diffusionkernels.kernels diffusionkernels.runtime diffusionkernels.samplers diffusionkernels.medical diffusionkernels.tool; do rm -rf "$cache/$id/$version"; done' EXIT

echo "== packing $version into $feed"
dotnet pack "$repo/DiffusionKernels.sln" -c Release -o "$feed" -p:Version="$version" --nologo -v q

echo "== a fresh console app on the DiffusionKernels package"
mkdir -p "$app"
cat > "$app/App.csproj" <<CSPROJ
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="DiffusionKernels" Version="$version" />
  </ItemGroup>
</Project>
CSPROJ
# Outside the repository, so none of its Directory.Build.props applies; the feed joins the configured sources.
cat > "$app/nuget.config" <<CONFIG
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="local-feed" value="$feed" />
  </packageSources>
</configuration>
CONFIG
cp "$repo/examples/QuickStart/Program.cs" "$app/Program.cs"
dotnet run --project "$app" -c Release -- "$out/app"

echo "== dk from the feed as a .NET tool"
dotnet tool install DiffusionKernels.Tool --version "$version" --tool-path "$tool" --add-source "$feed" --configfile "$app/nuget.config"
(cd "$work" && "$tool/dk" sample --sampler dpmpp_2m --steps 20 --num-samples 4 --seed 42 --output "$out/dk" --device auto)

echo "== comparing"
cmp "$out/app/samples.npy" "$out/dk/samples.npy"
cmp "$out/app/grid.png" "$out/dk/grid.png"
echo "OK: the packaged app and the packaged dk wrote the same bytes ($out)"
