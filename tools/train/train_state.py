"""What train_phantom.py keeps between runs: the model's diffusers config, the learning-rate schedule, the EMA decay
rule, the model folder it writes (the diffusers layout dk loads) and the checkpoint it resumes from.

Two things resume a run:
  checkpoint.pt   the training weights and the EMA weights in fp32, the step, the schedule and the loss log. It holds no
                  optimizer moments on purpose: they would double its size (28 MB for the bundled width), and the file
                  must stay small enough to travel with the GPU bundle (docs in tools/train/README.md); a run that
                  starts from a checkpoint re-warms the learning rate over a few hundred steps instead.
  a model folder  config.json + diffusion_pytorch_model.safetensors (the EMA weights, F16/BF16/F32) + training_log.json,
                  e.g. the committed models/phantom64: training and EMA weights both start from the stored EMA weights,
                  the step from the file's metadata, the schedule from its metadata when it has one."""
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import safetensors_io  # noqa: E402

CHECKPOINT_FORMAT = "phantom-train/2"  # /1 was the CPU-era {model, ema, step, log} pickle
WEIGHTS = "diffusion_pytorch_model.safetensors"

# The bundled model's topology (models/phantom64/config.json); only block_out_channels is meant to be varied.
DEFAULT_CONFIG = dict(
    sample_size=64, in_channels=1, out_channels=1, center_input_sample=False, time_embedding_type="positional",
    freq_shift=0, flip_sin_to_cos=True, down_block_types=["DownBlock2D", "DownBlock2D", "DownBlock2D", "AttnDownBlock2D"],
    up_block_types=["AttnUpBlock2D", "UpBlock2D", "UpBlock2D", "UpBlock2D"], block_out_channels=[16, 32, 64, 96],
    layers_per_block=1, mid_block_scale_factor=1, downsample_padding=1, downsample_type="conv", upsample_type="conv",
    dropout=0.0, act_fn="silu", attention_head_dim=32, norm_num_groups=8, attn_norm_num_groups=None, norm_eps=1e-5,
    resnet_time_scale_shift="default", add_attention=True, class_embed_type=None, num_class_embeds=None)

# The sampler the bundled model ships with (measured in its model card): SDE-DPM-Solver++(2M), Karras σ, dynamic
# thresholding; training itself uses only the linear β schedule these keys share with DDPM.
SCHEDULER = {"_class_name": "DPMSolverMultistepScheduler", "_diffusers_version": "0.40.0", "num_train_timesteps": 1000,
             "beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02, "prediction_type": "epsilon",
             "algorithm_type": "sde-dpmsolver++", "solver_order": 2, "solver_type": "midpoint", "use_karras_sigmas": True,
             "lower_order_final": True, "thresholding": True, "dynamic_thresholding_ratio": 0.995, "sample_max_value": 1.0,
             "timestep_spacing": "leading", "steps_offset": 1}


PREDICTIONS = ("epsilon", "sample", "v_prediction")


def scheduler_config(prediction="epsilon"):
    """SCHEDULER with the network's prediction type: "epsilon" (the bundled model), "sample" (x̂₀, which conditional
    models whose target the condition nearly fixes learn much faster) or "v_prediction"."""
    if prediction not in PREDICTIONS:
        raise SystemExit(f"--prediction: expected one of {', '.join(PREDICTIONS)}, found '{prediction}'")
    return {**SCHEDULER, "prediction_type": prediction}


def parse_channels(text):
    """'16,32,64,96' -> [16, 32, 64, 96], checked against the topology: four levels, GroupNorm's 8 groups divide every
    width, and the attention levels (the last one and the mid block) hold whole 32-wide heads."""
    try:
        channels = [int(c) for c in text.split(",")]
    except ValueError:
        raise SystemExit(f"--channels: expected comma-separated integers such as 16,32,64,96, found '{text}'")
    levels = len(DEFAULT_CONFIG["down_block_types"])
    if len(channels) != levels:
        raise SystemExit(f"--channels: the topology has {levels} levels, found {len(channels)} widths in '{text}'")
    groups, head = DEFAULT_CONFIG["norm_num_groups"], DEFAULT_CONFIG["attention_head_dim"]
    bad = [c for c in channels if c <= 0 or c % groups]
    if bad:
        raise SystemExit(f"--channels: every width must be a positive multiple of {groups} (GroupNorm groups), found {bad}")
    if channels[-1] % head:
        raise SystemExit(f"--channels: the last width {channels[-1]} carries attention and must be a multiple of the "
                         f"head size {head}")
    return channels


def model_config(channels, in_channels=1):
    """The topology with `channels` widths; `in_channels` > 1 adds condition channels after the one target channel."""
    return {**DEFAULT_CONFIG, "block_out_channels": list(channels), "in_channels": int(in_channels)}


class Schedule:
    """Learning rate of a training phase: linear warm-up from 0 to `peak` over `warmup` steps, then a cosine from `peak`
    down to `floor` over the rest of `length` steps, then `floor`. Steps count from `start`, the global step at which
    the phase began (0 from scratch, 6,000 when continuing the committed model). A run that resumes inside a phase
    without optimizer moments multiplies this by a linear re-warm-up over its first `rewarmup` steps."""

    FIELDS = ("peak", "floor", "warmup", "length", "start")

    def __init__(self, peak, floor, warmup, length, start):
        if not (peak > 0 and 0 <= floor <= peak):
            raise SystemExit(f"learning rates: need peak > 0 and 0 ≤ floor ≤ peak, found peak {peak}, floor {floor}")
        if not (0 <= warmup < length):
            raise SystemExit(f"schedule: need 0 ≤ warm-up < length, found warm-up {warmup}, length {length}")
        self.peak, self.floor, self.warmup, self.length, self.start = float(peak), float(floor), int(warmup), int(length), int(start)

    def lr(self, step):
        k = step - self.start
        if k < self.warmup:
            return self.peak * (k + 1) / self.warmup
        progress = min(1.0, (k - self.warmup) / max(1, self.length - self.warmup))
        return self.floor + (self.peak - self.floor) * 0.5 * (1 + math.cos(math.pi * progress))

    def to_dict(self):
        return {f: getattr(self, f) for f in self.FIELDS}

    @staticmethod
    def from_dict(d):
        return Schedule(*(d[f] for f in Schedule.FIELDS))


def ema_decay(target, step):
    """EMA decay at a global step: min(target, (1 + step) / (10 + step)). The warm-up keeps early averages from
    remembering the random initialisation; late in training the average spans about the last tenth of the steps until
    `target` caps it (1 / (1 − 0.9999) = 10,000 steps)."""
    return min(target, (1 + step) / (10 + step))


class ResumeState:
    """Everything a run starts from: weights (fp32 state dicts), config, global step, images seen, loss log, schedule
    (a dict, or None when the source has none) and where it came from."""

    def __init__(self, source, kind, config, model, ema, step, images, log, schedule, runs, prediction="epsilon"):
        self.source, self.kind, self.config, self.model, self.ema = source, kind, config, model, ema
        self.step, self.images, self.log, self.schedule, self.runs = step, images, log, schedule, runs
        self.prediction = prediction


def load_resume(path):
    """A checkpoint.pt written by write_checkpoint, or a model folder."""
    if os.path.isdir(path):
        return _load_folder(path)
    if not os.path.isfile(path):
        raise SystemExit(f"--resume: '{path}' is neither a checkpoint file nor a model folder")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # PyTorch < 1.13 has no weights_only
        state = torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - the unpickler's errors vary between PyTorch versions
        raise SystemExit(f"{path}: not a checkpoint of this script ({type(e).__name__}: {str(e)[:200]})")
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise SystemExit(f"{path}: expected a '{CHECKPOINT_FORMAT}' checkpoint, found format {found!r}; an older checkpoint "
                         "resumes through its model folder (--resume FOLDER)")
    meta = json.loads(state["meta"])
    return ResumeState(path, "checkpoint", meta["config"], {k: v.float() for k, v in state["model"].items()},
                       {k: v.float() for k, v in state["ema"].items()}, int(meta["step"]), meta.get("images"),
                       list(meta["log"]), meta.get("schedule"), list(meta.get("runs", [])), meta.get("prediction", "epsilon"))


def _load_folder(folder):
    config_path, weights_path = os.path.join(folder, "config.json"), os.path.join(folder, WEIGHTS)
    for p in (config_path, weights_path):
        if not os.path.isfile(p):
            raise SystemExit(f"--resume: the model folder '{folder}' has no {os.path.basename(p)}")
    with open(config_path) as f:
        config = {k: v for k, v in json.load(f).items() if not k.startswith("_")}
    arrays, meta = safetensors_io.load(weights_path)
    weights = {k: torch.from_numpy(v).float() for k, v in arrays.items()}
    log_path = os.path.join(folder, "training_log.json")
    log = json.load(open(log_path)) if os.path.isfile(log_path) else []
    step = int(meta["step"]) if "step" in meta else (log[-1]["step"] if log else 0)
    images = int(meta["images"]) if "images" in meta else None
    schedule = json.loads(meta["schedule"]) if "schedule" in meta else None
    prediction = "epsilon"
    sched_path = os.path.join(folder, "scheduler_config.json")
    if os.path.isfile(sched_path):
        with open(sched_path) as f:
            prediction = json.load(f).get("prediction_type", "epsilon")
    return ResumeState(folder, "model folder", config, {k: v.clone() for k, v in weights.items()}, weights, step, images,
                       log, schedule, json.loads(meta.get("runs", "[]")), prediction)


def _atomic(path, write):
    tmp = path + ".tmp"
    write(tmp)
    os.replace(tmp, path)


def _write_json(path, obj, indent=2):
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=indent)
    _atomic(path, write)


def write_model_folder(out, config, ema, step, images, log, schedule, runs, dtype, prediction="epsilon"):
    """The diffusers folder dk loads: config.json, scheduler_config.json, the EMA weights as `dtype`, training_log.json.
    The weights file's metadata carries the step, images seen, schedule and runs, so the folder alone can resume."""
    arrays = {}
    for k, v in ema.items():
        a = v.detach().float().cpu()
        if not torch.isfinite(a).all():
            raise SystemExit(f"EMA weight '{k}' is not finite at step {step}: nothing written")
        arrays[k] = a.half().numpy() if dtype == "F16" else a.numpy()
    if dtype == "F16":
        worst = max(float(np.abs(a.astype(np.float32)).max()) for a in arrays.values())
        if not math.isfinite(worst):
            raise SystemExit(f"an EMA weight overflows F16 at step {step}; use --dtype F32 or BF16")
    meta = {"format": "pt", "step": step, "schedule": json.dumps(schedule.to_dict()), "runs": json.dumps(runs)}
    if images is not None:
        meta["images"] = images
    bf16 = tuple(arrays) if dtype == "BF16" else ()
    _atomic(os.path.join(out, WEIGHTS), lambda tmp: safetensors_io.save(tmp, arrays, meta, bf16=bf16))
    _write_json(os.path.join(out, "config.json"), {"_class_name": "UNet2DModel", "_diffusers_version": "0.24.0", **config})
    _write_json(os.path.join(out, "scheduler_config.json"), scheduler_config(prediction))
    _write_json(os.path.join(out, "training_log.json"), log, indent=None)


def write_checkpoint(path, config, model, ema, step, images, log, schedule, runs, prediction="epsilon"):
    """checkpoint.pt (fp32 training and EMA weights, no optimizer moments); returns its size in bytes."""
    # Everything but the tensors as one JSON string: PyTorch's weights-only loader (1.13 lacks even floats) reads it.
    meta = {"config": config, "step": step, "images": images, "log": log, "schedule": schedule.to_dict(), "runs": runs,
            "prediction": prediction}
    state = {"format": CHECKPOINT_FORMAT, "meta": json.dumps(meta),
             "model": {k: v.detach().float().cpu() for k, v in model.state_dict().items()},
             "ema": {k: v.detach().float().cpu() for k, v in ema.items()}}
    _atomic(path, lambda tmp: torch.save(state, tmp))
    return os.path.getsize(path)
