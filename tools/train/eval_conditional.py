#!/usr/bin/python3
"""Checks an image-conditioned phantom model (models/phantom64-seg or models/phantom64-t1t2) on held-out pairs, in
PyTorch, beside a simple baseline, and draws the model card's sample grid.

  python3 tools/train/eval_conditional.py --model models/phantom64-seg --task seg \
      --cond seg_val_img.npy --target seg_val_mask.npy --n 32 --steps 20 --ensemble 4 --grid samples.png
  python3 tools/train/eval_conditional.py --model models/phantom64-t1t2 --task translate \
      --cond t1_val.npy --target t2_val.npy --fit-cond t1_train.npy --fit-target t2_train.npy --n 32 --grid samples.png

The sampler is DDIM (η = 0) on the model's 1000-step linear β schedule, x̂₀ clipped to [−1, 1], the network fed
[x_t, condition] with the condition mapped from [0, 1] to [−1, 1]: the layout dk's UNetDenoiser feeds. --guidance w ≠ 1
mixes the outputs o = o(∅) + w·(o(c) − o(∅)) with the zero null condition the training dropped in.

seg: the mean of --ensemble samples (mapped to [0, 1]) is the soft mask, thresholded at 0.5; Dice and IoU per image,
averaged, beside Otsu's threshold on each image and the best global intensity threshold chosen on the --fit pairs
(default: the evaluated pairs themselves, which favours that baseline).
translate: PSNR (data range 1) and SSIM (Gaussian σ 1.5, 11×11) of the ensemble mean against the true B, beside global
histogram matching (A's pooled intensity CDF mapped onto B's, fitted on the --fit pairs)."""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import safetensors_io  # noqa: E402
from unet_reference import UNet2DModel  # noqa: E402


def load_model(folder):
    with open(os.path.join(folder, "config.json")) as f:
        config = {k: v for k, v in json.load(f).items() if not k.startswith("_")}
    with open(os.path.join(folder, "scheduler_config.json")) as f:
        sched = json.load(f)
    arrays, meta = safetensors_io.load(os.path.join(folder, "diffusion_pytorch_model.safetensors"))
    model = UNet2DModel(config)
    model.load_state_dict({k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in arrays.items()}, strict=True)
    model.eval()
    if config["in_channels"] <= config["out_channels"]:
        raise SystemExit(f"{folder}: in_channels {config['in_channels']} ≤ out_channels {config['out_channels']}: not image-conditioned")
    return model, config, sched, meta


def to_x0(prediction, output, x, a):
    """x̂₀ from the network's output at ᾱ = a: ε, x̂₀ itself, or v = √ā·ε − √(1−ā)·x₀."""
    if prediction == "sample":
        return output
    if prediction == "v_prediction":
        return a ** 0.5 * x - (1 - a) ** 0.5 * output
    return (x - (1 - a) ** 0.5 * output) / a ** 0.5


@torch.no_grad()
def ddim(model, sched, cond, steps, generator, guidance=1.0):
    """DDIM (η = 0) from pure noise; cond [B, C, S, S] in [−1, 1]. Returns x̂₀ in [−1, 1]."""
    betas = torch.linspace(sched["beta_start"], sched["beta_end"], sched["num_train_timesteps"], dtype=torch.float64)
    abar = torch.cumprod(1 - betas, 0)
    ts = np.linspace(sched["num_train_timesteps"] - 1, 0, steps).round().astype(int)
    b = cond.shape[0]
    x = torch.randn((b, 1) + tuple(cond.shape[2:]), generator=generator)
    null = torch.zeros_like(cond)
    x0 = x
    for i, t in enumerate(ts):
        a = float(abar[t])
        tt = torch.full((b,), float(t))
        out = model(torch.cat([x, cond], 1), tt)
        if guidance != 1.0:  # linear in the output, so the same mix for every prediction type
            out_u = model(torch.cat([x, null], 1), tt)
            out = out_u + guidance * (out - out_u)
        x0 = to_x0(sched.get("prediction_type", "epsilon"), out, x, a).clamp(-1, 1)
        eps = (x - a ** 0.5 * x0) / (1 - a) ** 0.5
        a_prev = float(abar[ts[i + 1]]) if i + 1 < len(ts) else 1.0
        x = a_prev ** 0.5 * x0 + (1 - a_prev) ** 0.5 * eps
    return x0


def otsu(img, bins=256):
    hist, edges = np.histogram(img, bins=bins, range=(0, 1))
    p = hist.astype(np.float64) / hist.sum()
    centers = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(p)
    m = np.cumsum(p * centers)
    between = (m[-1] * w0 - m) ** 2 / np.maximum(w0 * (1 - w0), 1e-12)
    return centers[int(np.argmax(between))]


def dice_iou(pred, truth):
    inter = (pred & truth).sum(axis=(1, 2, 3)).astype(np.float64)
    ps, ts = pred.sum(axis=(1, 2, 3)), truth.sum(axis=(1, 2, 3))
    union = ps + ts - inter
    dice = np.where(ps + ts > 0, 2 * inter / np.maximum(ps + ts, 1), 1.0)
    iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    return dice, iou


def psnr(x, y):
    mse = ((x - y) ** 2).mean(axis=(1, 2, 3))
    return 10 * np.log10(1.0 / np.maximum(mse, 1e-12))


def ssim(x, y):
    """Mean SSIM per image (Wang et al. 2004: Gaussian window σ 1.5, 11×11, K1 0.01, K2 0.03, data range 1, valid region)."""
    g = torch.exp(-((torch.arange(11) - 5.0) ** 2) / (2 * 1.5 ** 2))
    w = (g[:, None] * g[None, :] / g.sum() ** 2).view(1, 1, 11, 11).double()
    a, b = torch.from_numpy(x).double(), torch.from_numpy(y).double()
    mu_a, mu_b = F.conv2d(a, w), F.conv2d(b, w)
    saa = F.conv2d(a * a, w) - mu_a ** 2
    sbb = F.conv2d(b * b, w) - mu_b ** 2
    sab = F.conv2d(a * b, w) - mu_a * mu_b
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (saa + sbb + c2))
    return s.mean(dim=(1, 2, 3)).numpy()


def histogram_matching(fit_a, fit_b):
    """The monotone map that sends A's pooled intensity distribution onto B's (quantile to quantile)."""
    q = np.linspace(0, 1, 1001)
    qa, qb = np.quantile(fit_a.ravel(), q), np.quantile(fit_b.ravel(), q)
    qa_unique, first = np.unique(qa, return_index=True)  # flat stretches of A's CDF (background) map to their mean B quantile
    qb_mean = np.array([qb[qa == v].mean() for v in qa_unique])
    return lambda a: np.interp(a, qa_unique, qb_mean).astype(np.float32)


def write_grid(path, columns, scale=2):
    """columns: lists of [N, 1, S, S] images in [0, 1]; one row per pair, a 2-pixel gap between columns."""
    from PIL import Image
    n, s = columns[0].shape[0], columns[0].shape[-1]
    gap = 2
    canvas = np.ones((n * s + (n - 1) * gap, len(columns) * s + (len(columns) - 1) * gap), dtype=np.float32)
    for r in range(n):
        for c, col in enumerate(columns):
            canvas[r * (s + gap):r * (s + gap) + s, c * (s + gap):c * (s + gap) + s] = col[r, 0]
    img = Image.fromarray((np.clip(canvas, 0, 1) * 255).round().astype(np.uint8), "L")
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    img.save(path + ".tmp.png")
    os.replace(path + ".tmp.png", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--task", required=True, choices=["seg", "translate"])
    ap.add_argument("--cond", required=True, help="conditions [N, 1, S, S] in [0, 1] (.npy)")
    ap.add_argument("--target", required=True, help="true targets [N, 1, S, S] in [0, 1] (.npy)")
    ap.add_argument("--fit-cond", help="pairs that fit the baseline (default: the evaluated ones)")
    ap.add_argument("--fit-target")
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--ensemble", type=int, default=1)
    ap.add_argument("--guidance", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--grid", help="write a PNG: condition, truth, first sample (seg: and the ensemble mean) per row")
    ap.add_argument("--grid-rows", type=int, default=8)
    ap.add_argument("--json", help="write the figures as JSON")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model, config, sched, meta = load_model(args.model)
    cond = np.load(args.cond)[:args.n].astype(np.float32)
    target = np.load(args.target)[:args.n].astype(np.float32)
    if cond.shape[0] < args.n or target.shape[0] < args.n:
        raise SystemExit(f"--n {args.n}: --cond holds {cond.shape[0]}, --target {target.shape[0]} pairs")
    fit_c = np.load(args.fit_cond).astype(np.float32) if args.fit_cond else cond
    fit_t = np.load(args.fit_target).astype(np.float32) if args.fit_target else target

    gen = torch.Generator().manual_seed(args.seed)
    c = torch.from_numpy(cond) * 2 - 1
    samples = np.stack([(ddim(model, sched, c, args.steps, gen, args.guidance).numpy() + 1) / 2 for _ in range(args.ensemble)])
    mean = samples.mean(axis=0)
    out = {"model": args.model, "step": int(meta.get("step", -1)), "pairs": args.n, "sampler": f"DDIM η=0, {args.steps} steps",
           "ensemble": args.ensemble, "guidance": args.guidance}
    if args.task == "seg":
        truth = target > 0.5
        pred = mean > 0.5
        single = samples[0] > 0.5
        d, i = dice_iou(pred, truth)
        d1, _ = dice_iou(single, truth)
        thr = np.array([otsu(im) for im in cond])
        d_otsu, i_otsu = dice_iou(cond > thr[:, None, None, None], truth)
        grid_t = np.linspace(0.3, 1.0, 71)
        fit_truth = fit_t > 0.5
        best = max(grid_t, key=lambda th: dice_iou(fit_c > th, fit_truth)[0].mean())
        d_glob, i_glob = dice_iou(cond > best, truth)
        out.update({"dice": d.mean(), "iou": i.mean(), "dice_single_sample": d1.mean(), "dice_otsu": d_otsu.mean(), "iou_otsu": i_otsu.mean(),
                    "global_threshold": float(best), "dice_global_threshold": d_glob.mean(), "iou_global_threshold": i_glob.mean(),
                    "ensemble_std_mean": float(samples.std(axis=0).mean())})
    else:
        hm = histogram_matching(fit_c, fit_t)(cond)
        out.update({"psnr": psnr(mean, target).mean(), "ssim": ssim(mean, target).mean(),
                    "psnr_single_sample": psnr(samples[0], target).mean(),
                    "psnr_histogram_matching": psnr(hm, target).mean(), "ssim_histogram_matching": ssim(hm, target).mean(),
                    "psnr_identity": psnr(cond, target).mean()})
    out = {k: (round(float(v), 4) if isinstance(v, (float, np.floating)) else v) for k, v in out.items()}
    print(json.dumps(out, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    if args.grid:
        r = min(args.grid_rows, args.n)
        cols = [cond[:r], target[:r], samples[0][:r]]
        if args.task == "seg" and args.ensemble > 1:
            cols.append(mean[:r])
        write_grid(args.grid, cols)


if __name__ == "__main__":
    main()
