#!/bin/sh
# Runs dk in the container. ILGPU opens libcuda.so, and the NVIDIA container toolkit mounts only libcuda.so.1: link it
# under a writable folder on LD_LIBRARY_PATH when a driver is present (no driver: dk runs on the CPU).
set -eu
for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/nvidia/lib64 /usr/lib/aarch64-linux-gnu; do
  if [ -e "$d/libcuda.so.1" ] && [ ! -e "$d/libcuda.so" ]; then
    mkdir -p /tmp/dk-lib
    ln -sf "$d/libcuda.so.1" /tmp/dk-lib/libcuda.so
    export LD_LIBRARY_PATH="/tmp/dk-lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    break
  fi
done
exec dotnet /app/dk.dll "$@"
