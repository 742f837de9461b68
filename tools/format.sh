#!/usr/bin/env bash
# Formats the solution as .editorconfig says; CI runs the same two commands with --verify-no-changes.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet format whitespace DiffusionKernels.sln
dotnet format style DiffusionKernels.sln --severity warn
