#!/usr/bin/python3
"""Trains the bundled phantom model: a diffusers-layout UNet2DModel (epsilon prediction, 1000-step linear DDPM
schedule) on head phantoms written by `dk phantoms`, in PyTorch (Debian's python3-torch on a CPU, or any GPU host).

  dk phantoms --n 20000 --size 64 --seed 0 --output phantoms.npy
  /usr/bin/python3 tools/train/train_phantom.py --data phantoms.npy --out models/phantom64 --steps 20000

Writes config.json, scheduler_config.json, diffusion_pytorch_model.safetensors (F16 by default) and
training_log.json (loss per 100 steps) into --out; checkpoints every --save-every steps so a run can resume."""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fixtures"))
import safetensors_io  # noqa: E402
from unet_reference import UNet2DModel  # noqa: E402

CONFIG = dict(sample_size=64, in_channels=1, out_channels=1, center_input_sample=False, time_embedding_type="positional",
              freq_shift=0, flip_sin_to_cos=True, down_block_types=["DownBlock2D", "DownBlock2D", "DownBlock2D", "AttnDownBlock2D"],
              up_block_types=["AttnUpBlock2D", "UpBlock2D", "UpBlock2D", "UpBlock2D"], block_out_channels=[16, 32, 64, 96],
              layers_per_block=1, mid_block_scale_factor=1, downsample_padding=1, downsample_type="conv", upsample_type="conv",
              dropout=0.0, act_fn="silu", attention_head_dim=32, norm_num_groups=8, attn_norm_num_groups=None, norm_eps=1e-5,
              resnet_time_scale_shift="default", add_attention=True, class_embed_type=None, num_class_embeds=None)
SCHEDULER = {"_class_name": "DDPMScheduler", "num_train_timesteps": 1000, "beta_schedule": "linear", "beta_start": 0.0001,
             "beta_end": 0.02, "prediction_type": "epsilon", "variance_type": "fixed_small", "clip_sample": True,
             "clip_sample_range": 1.0, "timestep_spacing": "leading", "steps_offset": 1}


def save(model, ema, out, step, log, dtype):
    state = {k: v.detach().float().cpu() for k, v in ema.items()}
    arrays = {k: (v.half() if dtype == "F16" else v).numpy() for k, v in state.items()}
    safetensors_io.save(os.path.join(out, "diffusion_pytorch_model.safetensors"), arrays, {"format": "pt", "step": str(step)})
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump({"_class_name": "UNet2DModel", "_diffusers_version": "0.24.0", **CONFIG}, f, indent=2)
    with open(os.path.join(out, "scheduler_config.json"), "w") as f:
        json.dump(SCHEDULER, f, indent=2)
    with open(os.path.join(out, "training_log.json"), "w") as f:
        json.dump(log, f)
    torch.save({"model": model.state_dict(), "ema": ema, "step": step, "log": log}, os.path.join(out, "checkpoint.pt"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--save-every", type=int, default=500)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--dtype", default="F16", choices=["F16", "F32"])
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    data = torch.from_numpy(np.load(args.data).astype(np.float32)) * 2 - 1  # [0, 1] phantoms -> [-1, 1]
    assert data.ndim == 4 and data.shape[1] == 1, f"expected [N,1,H,W] phantoms, found {tuple(data.shape)}"
    data = data.to(device)
    torch.manual_seed(0)
    model = UNet2DModel(CONFIG).to(device)
    betas = torch.linspace(SCHEDULER["beta_start"], SCHEDULER["beta_end"], 1000, dtype=torch.float32)
    abar = torch.cumprod(1 - betas, 0).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    ema = {k: v.detach().clone() for k, v in model.state_dict().items()}
    os.makedirs(args.out, exist_ok=True)
    step, log = 0, []
    ckpt = os.path.join(args.out, "checkpoint.pt")
    if os.path.exists(ckpt):
        state = torch.load(ckpt, map_location=device)
        model.load_state_dict(state["model"]); ema = state["ema"]; step = state["step"]; log = state["log"]
        print(f"resumed at step {step}")
    print(f"{sum(p.numel() for p in model.parameters())} parameters, {len(data)} images, device {device}")
    start, running = time.time(), 0.0
    while step < args.steps:
        idx = torch.randint(0, len(data), (args.batch,), device=device)
        x0 = data[idx]
        if torch.rand(()) < 0.5:
            x0 = x0.flip(-1)  # heads are left-right symmetric up to the random structures
        t = torch.randint(0, 1000, (args.batch,), device=device)
        eps = torch.randn_like(x0)
        a = abar[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
        lr = args.lr * min(1.0, (step + 1) / 500)
        for g in opt.param_groups:
            g["lr"] = lr
        loss = F.mse_loss(model(xt, t.float()), eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        decay = min(args.ema, (1 + step) / (10 + step))  # EMA warm-up: early averages do not remember the random init
        with torch.no_grad():
            for k, v in model.state_dict().items():
                ema[k].mul_(decay).add_(v.detach(), alpha=1 - decay) if v.dtype.is_floating_point else ema[k].copy_(v)
        step += 1
        running += loss.item()
        if step % 100 == 0:
            log.append({"step": step, "loss": running / 100, "seconds": time.time() - start})
            print(f"step {step} loss {running / 100:.4f} ({time.time() - start:.0f} s)", flush=True)
            running = 0.0
        if step % args.save_every == 0 or step == args.steps:
            save(model, ema, args.out, step, log, args.dtype)
    save(model, ema, args.out, step, log, args.dtype)


if __name__ == "__main__":
    main()
