#!/usr/bin/python3
"""Times the google/ddpm-cifar10-32 U-Net topology (random weights) in PyTorch on the CPU and exports the same
weights to ONNX and safetensors, so ONNX Runtime and DiffusionKernels run exactly the same model.

  /usr/bin/python3 tools/bench/torch_unet_cpu.py --out /tmp/cifar --threads 2 --batches 1,16
prints one line per batch: "torch cpu batch B: X ms/forward, Y images/s"."""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fixtures"))
import safetensors_io  # noqa: E402
from unet_reference import UNet2DModel  # noqa: E402

CIFAR = dict(sample_size=32, in_channels=3, out_channels=3, center_input_sample=False, time_embedding_type="positional",
             freq_shift=1, flip_sin_to_cos=False, down_block_types=["DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"],
             up_block_types=["UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"], block_out_channels=[128, 256, 256, 256],
             layers_per_block=2, mid_block_scale_factor=1, downsample_padding=0, downsample_type="conv", upsample_type="conv",
             dropout=0.0, act_fn="silu", attention_head_dim=None, norm_num_groups=32, attn_norm_num_groups=None, norm_eps=1e-6,
             resnet_time_scale_shift="default", add_attention=True, class_embed_type=None, num_class_embeds=None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, help="folder for config.json, weights and model.onnx")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    model = UNet2DModel(CIFAR).eval().to(args.device)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump({"_class_name": "UNet2DModel", **CIFAR}, f, indent=2)
    safetensors_io.save(os.path.join(args.out, "diffusion_pytorch_model.safetensors"),
                        {k: v.detach().cpu() for k, v in model.state_dict().items()}, {"format": "pt"})
    print(f"parameters: {sum(p.numel() for p in model.parameters())}")
    onnx_path = os.path.join(args.out, "model.onnx")
    if args.device == "cpu" and not os.path.exists(onnx_path):
        x, t = torch.randn(1, 3, 32, 32), torch.tensor([500.0])
        torch.onnx.export(model, (x, t), onnx_path, input_names=["sample", "timestep"], output_names=["out"],
                          dynamic_axes={"sample": {0: "batch"}, "timestep": {0: "batch"}, "out": {0: "batch"}}, opset_version=14)
    for b in [int(s) for s in args.batches.split(",")]:
        x, t = torch.randn(b, 3, 32, 32, device=args.device), torch.full((b,), 500.0, device=args.device)
        with torch.no_grad():
            for _ in range(2):
                model(x, t)
            start = time.perf_counter()
            for _ in range(args.iters):
                model(x, t)
            ms = (time.perf_counter() - start) * 1000 / args.iters
        print(f"torch {args.device} batch {b}: {ms:.2f} ms/forward, {b * 1000 / ms:.2f} images/s")


if __name__ == "__main__":
    main()
