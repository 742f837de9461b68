#!/usr/bin/python3
"""Trains the bundled phantom model: a diffusers-layout UNet2DModel (ε-prediction unless --prediction says otherwise,
1000-step linear DDPM schedule) on head phantoms written by `dk phantoms`, in PyTorch: a GPU host for real runs (TF32,
or bf16 autocast), the CPU for small ones. tools/gpu/train.sh drives it on a GPU host; tools/train/README.md has the
procedure and the numbers.

  dk phantoms --n 50000 --size 64 --seed 0 --output phantoms.npy
  python3 tools/train/train_phantom.py --data phantoms.npy --out run --resume models/phantom64 --minutes 6
  python3 tools/train/train_phantom.py --data phantoms.npy --out run --minutes 6        # again: resumes run/checkpoint.pt

Starts from --resume (a checkpoint.pt, or a model folder such as the committed models/phantom64, whose EMA weights
start both the training and the EMA weights), else from --out/checkpoint.pt when there is one, else from scratch.
Stops at global step --steps or after --minutes of wall-clock time (start-up included), whichever comes first, or on
SIGTERM/SIGINT; then saves and prints the step rate. Writes into --out: config.json, scheduler_config.json,
diffusion_pytorch_model.safetensors (the EMA weights, F16 by default), training_log.json (mean loss per 100 steps) and
checkpoint.pt, every --save-every steps and at the end, each file replaced atomically."""
import time

T0 = time.monotonic()  # the --minutes budget counts from here, imports included

import argparse  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import train_state as ts  # noqa: E402
from unet_reference import UNet2DModel  # noqa: E402

LOG_EVERY = 100


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="phantoms [N, 1, S, S] (.npy): float in [0, 1] from dk phantoms, or uint8 0–255")
    ap.add_argument("--cond", help="conditioning images [N, C, S, S] (.npy, same value ranges as --data) paired row by row "
                    "with --data: trains an image-conditioned model whose input is [noisy target, condition] "
                    "(in_channels = 1 + C), the order and scaling dk's UNetDenoiser feeds it")
    ap.add_argument("--cond-drop", type=float, default=0.1,
                    help="with --cond: probability that a sample's condition is replaced by zeros, so that classifier-free "
                         "guidance with a zero null condition works (default 0.1)")
    ap.add_argument("--prediction", choices=ts.PREDICTIONS,
                    help="what the network predicts: epsilon (default from scratch), sample (x̂₀) or v_prediction; a resumed "
                         "run keeps its source's")
    ap.add_argument("--out", required=True, help="folder for the model, training_log.json and checkpoint.pt")
    ap.add_argument("--resume", help="a checkpoint.pt or a model folder (default: --out/checkpoint.pt if present, else scratch)")
    ap.add_argument("--steps", type=int, help="stop at this global step")
    ap.add_argument("--minutes", type=float, help="stop after this much wall-clock time (start-up included), then save")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--channels", help="block_out_channels for a model from scratch, e.g. 32,64,128,128 (default 16,32,64,96)")
    ap.add_argument("--lr", type=float, help="peak learning rate of the phase (default 3e-4)")
    ap.add_argument("--min-lr", type=float, help="learning rate at the end of the cosine (default 1e-5)")
    ap.add_argument("--warmup", type=int, help="linear warm-up steps at the start of a phase (default 1000)")
    ap.add_argument("--schedule-steps", type=int, help="length of the phase: warm-up + cosine, in steps (default 50000)")
    ap.add_argument("--new-schedule", action="store_true", help="start a new phase at the resumed step instead of continuing the stored one")
    ap.add_argument("--rewarmup", type=int, default=200, help="linear learning-rate ramp over a resumed run's first steps (fresh Adam moments)")
    ap.add_argument("--ema", type=float, default=0.9999, help="EMA decay cap (the warm-up (1+n)/(10+n) applies below it)")
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--save-every", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", help="cuda, cuda:N or cpu (default: cuda when PyTorch sees one)")
    ap.add_argument("--precision", default="auto", choices=["auto", "tf32", "bf16", "fp32"],
                    help="tf32: fp32 activations, TF32 convolutions and matmuls (CUDA); bf16: bf16 autocast on top; "
                         "auto: tf32 on CUDA, fp32 on the CPU")
    ap.add_argument("--compile", action="store_true", help="torch.compile the U-Net (PyTorch ≥ 2; compile time counts against --minutes)")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads for PyTorch (0: its default)")
    ap.add_argument("--dtype", default="F16", choices=["F16", "BF16", "F32"], help="dtype of the saved EMA weights")
    args = ap.parse_args()
    if args.steps is None and args.minutes is None:
        ap.error("give --steps, --minutes or both")
    for name in ("batch", "save_every", "rewarmup"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be ≥ 1")
    if not 0 <= args.cond_drop < 1:
        ap.error(f"--cond-drop must lie in [0, 1), found {args.cond_drop}")
    if not 0 < args.ema < 1:
        ap.error(f"--ema must lie in (0, 1), found {args.ema}")
    if args.minutes is not None and args.minutes <= 0:
        ap.error(f"--minutes must be > 0, found {args.minutes}")
    return args


class Fp32GroupNorm(torch.nn.GroupNorm):
    """GroupNorm computed in fp32 whatever the autocast dtype (CUDA's autocast does this by itself, the CPU's does not
    in every PyTorch version); same parameters and state-dict names as nn.GroupNorm."""

    def forward(self, x):
        with torch.autocast(device_type=x.device.type, enabled=False):
            return F.group_norm(x.float(), self.num_groups, self.weight, self.bias, self.eps)


def set_tf32(on):
    """TF32 for CUDA matmuls and convolutions: PyTorch ≥ 2.9's fp32_precision settings where they exist (the allow_tf32
    flags are deprecated there and must not be mixed with them), else the allow_tf32 flags."""
    if hasattr(torch.backends.cuda.matmul, "fp32_precision"):
        mode = "tf32" if on else "ieee"
        torch.backends.cuda.matmul.fp32_precision = mode
        torch.backends.cudnn.conv.fp32_precision = mode
    else:
        torch.backends.cuda.matmul.allow_tf32 = on
        torch.backends.cudnn.allow_tf32 = on


def load_phantoms(path, size, device, option="--data", channels=1):
    """[N, C, S, S] images (phantoms, masks or conditions) mapped from [0, 1] to the model's [−1, 1], on `device`;
    `channels` None accepts any channel count."""
    if not os.path.isfile(path):
        raise SystemExit(f"{option}: no file '{path}' (make one with: dk phantoms --n 50000 --size {size} --seed 0 --output {path})")
    raw = np.load(path, mmap_mode="r")
    if raw.ndim != 4 or (channels is not None and raw.shape[1] != channels) or raw.shape[2:] != (size, size):
        raise SystemExit(f"{path}: expected images [N, {channels if channels is not None else 'C'}, {size}, {size}], found {list(raw.shape)}")
    if raw.dtype == np.uint8:
        data = torch.from_numpy(np.array(raw)).to(device).float().div_(255)
    elif raw.dtype in (np.float32, np.float64, np.float16):
        data = torch.from_numpy(np.array(raw, dtype=np.float32)).to(device)  # a copy: the mapped file is read-only
        lo, hi = float(data.min()), float(data.max())
        if not (math.isfinite(lo) and math.isfinite(hi) and lo >= 0 and hi <= 1):
            raise SystemExit(f"{path}: phantom values must lie in [0, 1], found {lo} … {hi}")
    else:
        raise SystemExit(f"{path}: expected float32 (dk phantoms) or uint8 images, found {raw.dtype}")
    return data.mul_(2).sub_(1)


def pick_start(args):
    if args.resume:
        return ts.load_resume(args.resume)
    own = os.path.join(args.out, "checkpoint.pt")
    return ts.load_resume(own) if os.path.isfile(own) else None


def make_schedule(args, start, step):
    given = {"peak": args.lr, "floor": args.min_lr, "warmup": args.warmup, "length": args.schedule_steps}
    defaults = {"peak": 3e-4, "floor": 1e-5, "warmup": 1000, "length": 50000}
    if start is not None and start.schedule is not None and not args.new_schedule:
        stored = dict(start.schedule)
        changed = {k: v for k, v in given.items() if v is not None and v != stored[k]}
        stored.update(changed)
        if changed:
            print(f"schedule: continuing the phase from step {stored['start']} with {changed} overriding the stored values")
        return ts.Schedule.from_dict(stored), start.step > stored["start"]
    values = {k: (given[k] if given[k] is not None else defaults[k]) for k in defaults}
    return ts.Schedule(start=step, **values), False


class Stop:
    """SIGTERM/SIGINT ask the loop to stop after the current step and save; a second signal kills as usual."""

    def __init__(self):
        self.reason = None
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        self.reason = signal.Signals(signum).name
        signal.signal(signum, signal.SIG_DFL)


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    cuda = device.type == "cuda"
    if cuda and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device}: PyTorch sees no CUDA device")
    # TF32 rather than bf16 by default: in bf16 autocast the committed model's ε error against its fp32 forward is
    # 0.015 (RMS) at t ≥ 500 and up to 0.1 at t = 5, as large as the model's own error at high t (tools/train/README.md).
    bf16 = args.precision == "bf16"
    precision = "tf32" if args.precision == "auto" and cuda else ("fp32" if args.precision == "auto" else args.precision)
    if cuda:
        set_tf32(precision != "fp32")
        torch.backends.cudnn.benchmark = True

    start = pick_start(args)
    cond_channels = 0
    if args.cond:
        if not os.path.isfile(args.cond):
            raise SystemExit(f"--cond: no file '{args.cond}'")
        shape = np.load(args.cond, mmap_mode="r").shape
        if len(shape) != 4 or shape[1] < 1:
            raise SystemExit(f"{args.cond}: expected conditions [N, C, S, S], found {list(shape)}")
        cond_channels = int(shape[1])
    if start is None:
        config = ts.model_config(ts.parse_channels(args.channels or "16,32,64,96"), in_channels=1 + cond_channels)
    else:
        config = start.config
        if args.channels and ts.parse_channels(args.channels) != list(config["block_out_channels"]):
            raise SystemExit(f"--channels {args.channels}: {start.source} has block_out_channels "
                             f"{config['block_out_channels']}; a different width starts from scratch (another --out, no --resume)")
        if int(config["in_channels"]) != 1 + cond_channels:
            have = int(config["in_channels"]) - int(config["out_channels"])
            raise SystemExit(f"{start.source} takes {have} condition channel(s) (in_channels {config['in_channels']}), but "
                             f"{'--cond ' + args.cond + ' has ' + str(cond_channels) if args.cond else 'no --cond was given'}")
    size = int(config["sample_size"])
    prediction = start.prediction if start is not None else (args.prediction or "epsilon")
    if args.prediction and args.prediction != prediction:
        raise SystemExit(f"--prediction {args.prediction}: {start.source} was trained to predict {prediction}; another "
                         f"prediction type starts from scratch (another --out, no --resume)")

    model = UNet2DModel(config).to(device)
    if bf16:
        for m in model.modules():
            if type(m) is torch.nn.GroupNorm:
                m.__class__ = Fp32GroupNorm
    ema_keys = [k for k, v in model.state_dict().items() if v.dtype.is_floating_point]
    step, images, log, runs = 0, 0, [], []
    if start is not None:
        try:
            model.load_state_dict({k: v.to(device) for k, v in start.model.items()}, strict=True)
        except RuntimeError as e:
            raise SystemExit(f"{start.source}: its weights do not fit its config ({e})")
        step, log, runs = start.step, start.log, start.runs
        images = start.images if start.images is not None else 0
    ema = {k: (start.ema[k] if start is not None else model.state_dict()[k]).detach().to(device, torch.float32).clone() for k in ema_keys}
    schedule, resumed_inside = make_schedule(args, start, step)
    data = load_phantoms(args.data, size, device)
    cond = None
    if args.cond:
        cond = load_phantoms(args.cond, size, device, "--cond", cond_channels)
        if len(cond) != len(data):
            raise SystemExit(f"--cond {args.cond} holds {len(cond):,} images, --data {args.data} {len(data):,}: they must pair row by row")
    os.makedirs(args.out, exist_ok=True)

    params = [p for p in model.parameters() if p.requires_grad]
    opt_kwargs = {"lr": schedule.lr(step), "betas": (0.9, 0.999), "weight_decay": 0.0}
    try:
        opt = torch.optim.AdamW(params, fused=cuda, **opt_kwargs) if cuda else torch.optim.AdamW(params, foreach=True, **opt_kwargs)
    except (TypeError, RuntimeError):  # PyTorch without a fused AdamW
        opt = torch.optim.AdamW(params, **opt_kwargs)
    net = model
    if args.compile:
        if not hasattr(torch, "compile"):
            raise SystemExit(f"--compile needs PyTorch ≥ 2, found {torch.__version__}")
        net = torch.compile(model)
    live = [model.state_dict()[k] for k in ema_keys]
    shadow = [ema[k] for k in ema_keys]
    betas = torch.linspace(ts.SCHEDULER["beta_start"], ts.SCHEDULER["beta_end"], ts.SCHEDULER["num_train_timesteps"], dtype=torch.float64)
    abar = torch.cumprod(1 - betas, 0).float().to(device)

    n_params = sum(p.numel() for p in params)
    origin = "scratch" if start is None else f"{start.kind} {start.source} at step {step}"
    print(f"{n_params:,} parameters, channels {config['block_out_channels']}, {len(data):,} images"
          f"{f' + {cond_channels}-channel conditions (dropped with p {args.cond_drop:g})' if cond is not None else ''}, device {device}"
          f"{' (' + torch.cuda.get_device_name(device) + ')' if cuda else ''}, torch {torch.__version__}, "
          f"{ {'bf16': 'bf16 autocast' + (' + TF32' if cuda else ''), 'tf32': 'TF32', 'fp32': 'fp32'}[precision] }{', compiled' if args.compile else ''}; from {origin}")
    print(f"schedule: peak lr {schedule.peak:g} after {schedule.warmup} warm-up steps, cosine to {schedule.floor:g} at step "
          f"{schedule.start + schedule.length}{f'; re-warm-up over {args.rewarmup} steps' if resumed_inside else ''}; "
          f"batch {args.batch}, EMA cap {args.ema}, predicting {prediction}")
    if start is not None and start.images is None and step > 0:
        print(f"note: {start.source} records no image count; images seen are counted from step {step} on")
    if args.steps is not None and step >= args.steps:
        print(f"already at step {step} ≥ --steps {args.steps}: nothing to do")

    torch.manual_seed(args.seed * 1_000_003 + step)  # a resumed run draws fresh batches and noise
    stop = Stop()
    budget = None if args.minutes is None else args.minutes * 60
    first_step, run_steps, window_steps = step, 0, 0
    window = torch.zeros((), device=device)
    loop_start = time.monotonic()
    steady_start = steady_step = None
    last_loss = float("nan")
    samples_n = len(data)

    def checkpoint(final):
        runs_now = runs + [run_record(final)]
        ts.write_model_folder(args.out, config, ema, step, images, log, schedule, runs_now, args.dtype, prediction)
        size_b = ts.write_checkpoint(os.path.join(args.out, "checkpoint.pt"), config, model, ema, step, images, log, schedule,
                                     runs_now, prediction)
        return size_b

    def run_record(final):
        seconds = time.monotonic() - loop_start
        return {"from_step": first_step, "to_step": step, "batch": args.batch, "seconds": round(seconds, 1),
                "device": torch.cuda.get_device_name(device) if cuda else "cpu", "final": final}

    def forward_backward(network, xt, t, target):
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
            pred = network(xt, t.float())
        value = F.mse_loss(pred.float(), target)
        opt.zero_grad(set_to_none=True)
        value.backward()
        return value

    while True:
        if args.steps is not None and step >= args.steps:
            reason = f"reached --steps {args.steps}"
            break
        if budget is not None and time.monotonic() - T0 >= budget:
            reason = f"--minutes {args.minutes:g} spent"
            break
        if stop.reason:
            reason = f"{stop.reason} received"
            break
        lr = schedule.lr(step) * (min(1.0, (run_steps + 1) / args.rewarmup) if resumed_inside else 1.0)
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.randint(0, samples_n, (args.batch,), device=device)
        x0 = data[idx]
        # Head phantoms are left-right symmetric in distribution (mirrored ventricles, symmetric random draws).
        flip = torch.rand(args.batch, 1, 1, 1, device=device) < 0.5
        x0 = torch.where(flip, x0.flip(-1), x0)
        t = torch.randint(0, ts.SCHEDULER["num_train_timesteps"], (args.batch,), device=device)
        eps = torch.randn_like(x0)
        a = abar[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
        target = eps if prediction == "epsilon" else x0 if prediction == "sample" else a.sqrt() * eps - (1 - a).sqrt() * x0
        if cond is not None:
            # dk's UNetDenoiser feeds [c_in·x, condition] with c_in·x = x_t (the VP sample) and the condition unscaled in
            # [−1, 1]; a dropped condition is zeros, the null condition of classifier-free guidance.
            c = cond[idx]
            c = torch.where(flip, c.flip(-1), c)
            keep = (torch.rand(args.batch, 1, 1, 1, device=device) >= args.cond_drop).to(c.dtype)
            xt = torch.cat([xt, c * keep], dim=1)
        if net is not model and run_steps == 0:
            try:  # torch.compile compiles on the first call; a failure there falls back to eager instead of losing the run
                loss = forward_backward(net, xt, t, target)
            except Exception as e:  # noqa: BLE001 - compiler errors have many types
                print(f"note: torch.compile failed on the first step ({type(e).__name__}: {str(e)[:300]}); training eager")
                net = model
                loss = forward_backward(net, xt, t, target)
        else:
            loss = forward_backward(net, xt, t, target)
        torch.nn.utils.clip_grad_norm_(params, args.grad_clip)
        opt.step()
        d = ts.ema_decay(args.ema, step)
        with torch.no_grad():
            torch._foreach_mul_(shadow, d)
            torch._foreach_add_(shadow, live, alpha=1 - d)
        window += loss.detach()  # no host sync per step: read every LOG_EVERY steps
        step += 1
        run_steps += 1
        window_steps += 1
        images += args.batch
        if run_steps == 20:  # the steady rate leaves out cuDNN autotuning and compilation
            if cuda:
                torch.cuda.synchronize(device)
            steady_start, steady_step = time.monotonic(), step
        if step % LOG_EVERY == 0:
            last_loss = window.item() / window_steps
            if not math.isfinite(last_loss):
                raise SystemExit(f"the loss is not finite between steps {step - window_steps} and {step}; "
                                 f"{args.out} keeps the last save")
            elapsed = time.monotonic() - loop_start
            log.append({"step": step, "loss": last_loss, "lr": lr, "batch": args.batch, "seconds": round(elapsed, 1)})
            print(f"step {step} loss {last_loss:.5f} lr {lr:.2e} ({run_steps / elapsed:.1f} steps/s, {elapsed:.0f} s)", flush=True)
            window.zero_()
            window_steps = 0
        if step % args.save_every == 0:
            checkpoint(False)

    if cuda:
        torch.cuda.synchronize(device)
    end = time.monotonic()
    size_b = checkpoint(True)
    train_s = end - loop_start
    rate = run_steps / train_s if train_s > 0 else 0.0
    steady = (step - steady_step) / (end - steady_start) if steady_start is not None and end > steady_start and step > steady_step else rate
    print(f"stopped: {reason}")
    print(f"run: steps {first_step} -> {step} ({run_steps} steps, batch {args.batch}) in {train_s:.1f} s after {loop_start - T0:.1f} s "
          f"of start-up: {rate:.2f} steps/s overall, {steady:.2f} steps/s steady, {steady * args.batch:.0f} images/s; "
          f"last loss {f'{last_loss:.5f}' if math.isfinite(last_loss) else 'none (fewer than ' + str(LOG_EVERY) + ' steps)'}; images seen {images:,}")
    print(f"saved: {args.out} (checkpoint.pt {size_b / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
