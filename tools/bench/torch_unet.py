#!/usr/bin/python3
"""Times the google/ddpm-cifar10-32 U-Net topology in PyTorch on CUDA: the reference re-implementation of diffusers'
UNet2DModel (tools/fixtures/unet_reference.py) with the random weights of seed 0, i.e. the model torch_unet_cpu.py
exports. Three modes per batch, each timed between torch.cuda.synchronize() calls: eager with TF32 on, eager with
TF32 off (full fp32, what DiffusionKernels computes), and CUDA-graph replay with TF32 off.

With --export DIR it also writes that model (config.json + diffusion_pytorch_model.safetensors) and one fp32 forward
pass (x.npy, t.npy, y.npy) so `dk forward` and `dk bench unet` can run the very same weights (tools/gpu/run.sh does).

  python3 tools/bench/torch_unet.py --batches 1,8,32,128 [--iters 20] [--export DIR]
prints one line per batch and mode: "torch cuda <mode> batch B: X ms/forward, Y images/s"."""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "fixtures"))
sys.path.insert(0, here)
import safetensors_io  # noqa: E402
from torch_unet_cpu import CIFAR  # noqa: E402
from unet_reference import UNet2DModel  # noqa: E402


def set_tf32(on):
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


def timed(fn, iters):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) * 1000 / iters


def graph_replay(model, x, t, iters):
    """Captures one forward pass into a CUDA graph (after warm-up on a side stream, as PyTorch's docs prescribe)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            model(x, t)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        model(x, t)
    return timed(graph.replay, iters)


def export(model, folder):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"_class_name": "UNet2DModel", **CIFAR}, f, indent=2)
    safetensors_io.save(os.path.join(folder, "diffusion_pytorch_model.safetensors"),
                        {k: v.detach().cpu() for k, v in model.state_dict().items()}, {"format": "pt"})
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(4, 3, 32, 32, generator=gen)
    t = torch.tensor([999.0, 500.0, 20.0, 1.0])
    set_tf32(False)
    with torch.no_grad():
        y = model(x.cuda(), t.cuda()).cpu()
    np.save(os.path.join(folder, "x.npy"), x.numpy())
    np.save(os.path.join(folder, "t.npy"), t.numpy())
    np.save(os.path.join(folder, "y.npy"), y.numpy())
    print(f"exported the model and one fp32 forward pass (batch 4) to {folder}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", default="1,8,32,128")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--export", help="folder for the model and a reference forward pass")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("torch_unet: PyTorch has no CUDA device", file=sys.stderr)
        return 2
    torch.manual_seed(0)
    model = UNet2DModel(CIFAR).eval()
    device = torch.device("cuda")
    model = model.to(device)
    torch.backends.cudnn.benchmark = True
    print(f"torch {torch.__version__}, cuda {torch.version.cuda}, {torch.cuda.get_device_name(0)}, "
          f"{sum(p.numel() for p in model.parameters())} parameters, cudnn.benchmark on")
    if args.export:
        export(model, args.export)
    with torch.no_grad():
        for b in [int(s) for s in args.batches.split(",")]:
            x = torch.randn(b, 3, 32, 32, device=device)
            t = torch.full((b,), 500.0, device=device)
            for mode in ("tf32=on", "tf32=off", "graph,tf32=off"):
                set_tf32(mode == "tf32=on")
                ms = graph_replay(model, x, t, args.iters) if mode.startswith("graph") else timed(lambda: model(x, t), args.iters)
                print(f"torch cuda {mode} batch {b}: {ms:.3f} ms/forward, {b * 1000 / ms:.1f} images/s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
