#!/usr/bin/python3
"""Draws training_log.json (loss per 100 steps, written by train_phantom.py) as an SVG loss curve, log-scaled loss,
with a dashed marker where the batch size changes.

  /usr/bin/python3 tools/train/plot_loss.py models/phantom64/training_log.json models/phantom64/loss.svg"""
import json
import math
import sys


def main(log_path, svg_path):
    log = json.load(open(log_path))
    steps = [e["step"] for e in log]
    losses = [e["loss"] for e in log]
    w, h, left, bottom, top, right = 640, 360, 70, 45, 25, 20
    lo, hi = math.floor(math.log10(min(losses))), math.ceil(math.log10(max(losses)))
    def px(s): return left + (s - steps[0]) / max(1, steps[-1] - steps[0]) * (w - left - right)
    def py(v): return top + (hi - math.log10(v)) / (hi - lo) * (h - top - bottom)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
             f'<rect width="{w}" height="{h}" fill="white"/>']
    for d in range(lo, hi + 1):
        for m in (1, 2, 5):
            v = m * 10 ** d
            if v > 10 ** hi:
                break
            parts.append(f'<line x1="{left}" x2="{w - right}" y1="{py(v):.1f}" y2="{py(v):.1f}" stroke="#ddd"/>')
            parts.append(f'<text x="{left - 6}" y="{py(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
    for i in range(6):
        s = steps[0] + i * (steps[-1] - steps[0]) / 5
        parts.append(f'<text x="{px(s):.1f}" y="{h - bottom + 16}" text-anchor="middle">{int(round(s))}</text>')
    # A run that changed the batch size (e.g. continuing a CPU-trained model on a GPU) gets a dashed marker.
    batches = [e.get("batch") for e in log]
    for i in range(1, len(log)):
        if batches[i] != batches[i - 1]:
            x = px(steps[i - 1])
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{h - bottom}" stroke="#999" stroke-dasharray="4,3"/>')
            parts.append(f'<text x="{x + 4:.1f}" y="{top + 12}" fill="#555">batch {batches[i]}</text>')
    points = " ".join(f"{px(s):.1f},{py(v):.1f}" for s, v in zip(steps, losses))
    parts.append(f'<polyline points="{points}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>')
    parts.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{h - bottom}" stroke="black"/>')
    parts.append(f'<line x1="{left}" x2="{w - right}" y1="{h - bottom}" y2="{h - bottom}" stroke="black"/>')
    parts.append(f'<text x="{(w + left) / 2}" y="{h - 8}" text-anchor="middle">training step</text>')
    parts.append(f'<text x="{left}" y="15">ε-prediction MSE (mean over 100 steps)</text></svg>')
    tmp = svg_path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(parts))
    import os
    os.replace(tmp, svg_path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
