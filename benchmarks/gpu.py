"""Feeding the GPU: ssft's extraction and training steps as a share of the raw model's speed.

    python benchmarks/gpu.py                 # on a GPU: ViT-S/14 and ViT-B/14, full sizes
    python benchmarks/gpu.py --quick         # tiny sizes (random:dinov2-tiny), runs on a CPU
    python benchmarks/gpu.py --noop [--before-src OLD/src]   # pipeline cost, no-op backbone

In one run, for each model (DINOv2 ViT-S/14 and ViT-B/14, transformers ``Dinov2Model`` built
from its config with random weights, sdpa attention, 224 px, bf16 autocast on a GPU):

A. raw: the model's forward on a batch already on the device (no ssft code), images/s;
B. extraction: ``FeatureStore.build`` (what ``ssft extract`` runs) over MNIST-sized uint8 grey
   images (28 px, made here from a seed), store=reduced, DataLoader workers, as a share of A;
C. training without the cache: twinturbo, frozen backbone, 64 labelled + 64 unlabelled images
   per step, the paper head (width 256, depth 2), mean step time over the steps after the first
   few, against (raw forward of 128 images + the same step on cached features).

``--noop`` measures the pipeline alone: a backbone that returns zeros of ViT-S/14's output shape,
so what is timed is decoding, resizing, normalising, copying and writing the cache (extraction),
or fetching and preparing a step's 128 images (training without the cache), per image. With
``--before-src`` it also runs the same measurement on older sources (a subprocess with that
``PYTHONPATH``). Results go to ``benchmarks/results/gpu.{json,md}`` (``gpu-quick`` with
``--quick``, or ``--out DIR``); a run replaces only the sections it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine  # noqa: E402

MODELS = {"ViT-S/14": "random:dinov2-small", "ViT-B/14": "random:dinov2-base"}
QUICK_MODELS = {"tiny (64 wide, 2 blocks)": "random:dinov2-tiny"}
PAPER_HEAD = ["model.width=256", "model.depth=2", "model.heads=4"]


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def mnist_like(n: int, seed: int = 0) -> list:
    import numpy as np

    rng = np.random.default_rng(seed)
    return list(rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8))


# ------------------------------------------------------------------------------------------------
# A. the raw model


def raw_forward(name: str, batch: int, iters: int, device: Any) -> dict[str, Any]:
    import torch

    from ssft.backbones import build_backbone
    from ssft.config import BackboneConfig
    from ssft.precision import autocast

    bb = build_backbone(BackboneConfig(name=name)).freeze().to(device)
    model, size = bb.model, bb.preprocess.size
    x = torch.randn(batch, 3, size, size, device=device)
    with torch.inference_mode(), autocast(device, "auto"):
        for _ in range(3):
            model(pixel_values=x)
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(iters):
            model(pixel_values=x)
        _sync(device)
        seconds = time.perf_counter() - t0
    return {"images_per_s": batch * iters / seconds, "batch": batch, "image_size": size}


# ------------------------------------------------------------------------------------------------
# B. extraction


def extraction(name: str, n: int, batch: int, workers: int, device: Any, root: Path) -> dict[str, Any]:
    from ssft.backbones import build_backbone
    from ssft.config import BackboneConfig
    from ssft.features import FeatureStore

    bb = build_backbone(BackboneConfig(name=name)).freeze().to(device)
    kw = {"backbone": bb, "root": root, "store": "reduced", "grid": 4, "batch_size": batch}
    kw.update(device=device, num_workers=workers, progress=False)
    FeatureStore.build(inputs=mnist_like(2 * batch, seed=1), key=f"warm-{abs(hash(name))}", **kw)
    images = mnist_like(n)
    _sync(device)
    t0 = time.perf_counter()
    FeatureStore.build(inputs=images, key=f"bench-{abs(hash(name))}", **kw)
    _sync(device)
    seconds = time.perf_counter() - t0
    return {"images": n, "images_per_s": n / seconds, "batch": batch, "num_workers": workers}


# ------------------------------------------------------------------------------------------------
# C. training steps


def step_seconds(overrides: list[str], steps: tuple[int, int], out: Path) -> float:
    """Mean seconds per step over steps ``steps[0]+1 .. steps[1]`` (two runs, warm-up excluded)."""
    return step_times(overrides, steps, out)[0]


def step_times(overrides: list[str], steps: tuple[int, int], out: Path) -> tuple[float, float]:
    """(wall, CPU) seconds per step over steps ``steps[0]+1 .. steps[1]``: two runs, the longer
    minus the shorter, so each run's start-up cancels. CPU time is this process's (all threads).

    An untimed run of ``steps[0]`` steps goes first: what a process pays once (lazy imports, first
    calls of kernels, the allocator's first growth) falls into the first training loop it runs,
    and left in the shorter timed run it would be subtracted from the longer one's steps (it once
    made an older pipeline look 7x cheaper per image than it was)."""
    from ssft.config import load_config
    from ssft.run.runner import fit

    wall, cpu = [], []
    for k in (steps[0], *steps):
        cfg = load_config("demo", [*overrides, f"train.steps={k}", "train.checkpoint_every=0"])
        c0 = time.process_time()
        wall.append(fit(cfg, out / f"s{k}-{len(list(out.glob('*')))}").results["train_seconds"])
        cpu.append(time.process_time() - c0)
    wall, cpu = wall[1:], cpu[1:]  # the warm-up run is not timed
    n = steps[1] - steps[0]
    # On a busy machine a difference can come out below zero; then the plain mean is stated.
    w = (wall[1] - wall[0]) / n
    c = (cpu[1] - cpu[0]) / n
    return (w if w > 0 else wall[1] / steps[1]), (c if c > 0 else cpu[1] / steps[1])


def training(name: str, workers: int, steps: tuple[int, int], device: Any, tmp: Path) -> dict[str, Any]:
    base = [
        f"backbone.name={name}",
        "backbone.image_size=null",
        "method.name=twinturbo",
        "train.batch_size=64",
        "train.unlabeled_ratio=1",
        "data.labels_per_class=10",
        "train.log_every=1000",
        f"train.device={device}",
        f"train.num_workers={workers}",
        f"cache.dir={tmp / 'cache'}",
        "cache.store=reduced",
        *PAPER_HEAD,
    ]
    live = step_seconds([*base, "cache.enabled=false"], steps, tmp / "live")
    cached = step_seconds(base, steps, tmp / "cached")
    return {"live_step_s": live, "cached_step_s": cached, "images_per_step": 128, "num_workers": workers}


# ------------------------------------------------------------------------------------------------
# The pipeline alone: a no-op backbone


def noop_backbone(dim: int = 384, tokens: int = 1 + 16 * 16, size: int = 224) -> Any:
    import torch
    from torch import nn

    from ssft.backbones.base import Backbone, Features, ImagePreprocess, images_to_tensor

    class NoOp(Backbone):
        """Returns zeros of a ViT-S/14 output's shape; costs (almost) nothing itself."""

        modality = "image"
        num_prefix_tokens = 1
        device_preprocessing = True  # sources without device preprocessing ignore this

        def __init__(self) -> None:
            super().__init__()
            self.name, self.dim = "noop", dim
            self.preprocess = ImagePreprocess(size, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
            self.w = nn.Parameter(torch.zeros(1))

        def prepare(self, raw: Any) -> dict[str, Any]:
            if hasattr(Backbone, "to_device"):
                return Backbone.prepare(self, raw)
            return {"pixel_values": images_to_tensor(raw, self.preprocess)}

        def encode(self, inputs: dict[str, Any]) -> Any:
            x = inputs["pixel_values"]
            z = torch.zeros(x.shape[0], tokens, dim, device=x.device) + self.w
            return Features(z[:, 0], z, None)

    return NoOp()


def noop_here(n: int, steps: tuple[int, int]) -> dict[str, Any]:
    """The no-op measurement with whatever ``ssft`` this process imports."""
    import torch

    import ssft.backbones
    from ssft.features import FeatureStore

    device = torch.device("cpu")
    with tempfile.TemporaryDirectory(prefix="ssft-noop-") as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        FeatureStore.build(
            backbone=noop_backbone(),
            inputs=mnist_like(n),
            key="noop",
            root=tmp,
            store="reduced",
            grid=4,
            batch_size=256,
            device=device,
            progress=False,
        )
        extract, extract_cpu = (time.perf_counter() - t0) / n, (time.process_time() - c0) / n
        real_build = ssft.backbones.build_backbone
        ssft.backbones.build_backbone = lambda cfg: noop_backbone()  # fit imports it at call time
        try:
            over = [
                "method.name=supervised",
                "train.batch_size=128",
                "model.projector=identity",
                "cache.enabled=false",
                "train.device=cpu",
                "data.labels_per_class=20",
            ]
            step, step_cpu = step_times(over, steps, Path(tmp) / "runs")
        finally:
            ssft.backbones.build_backbone = real_build
    return {
        "images": n,
        "extract_ms_per_image": 1000 * extract,
        "train_ms_per_image": 1000 * step / 128,
        "extract_cpu_ms_per_image": 1000 * extract_cpu,
        "train_cpu_ms_per_image": 1000 * step_cpu / 128,
        "torch_threads": torch.get_num_threads(),
    }


def noop(before_src: str | None, quick: bool) -> dict[str, Any]:
    n, steps = (64, (1, 2)) if quick else (2048, (1, 6))
    out: dict[str, Any] = {"after": noop_here(n, steps)}
    if before_src:
        env = dict(os.environ, PYTHONPATH=str(Path(before_src).resolve()))
        cmd = [sys.executable, __file__, "--noop-worker"] + (["--quick"] if quick else [])
        text = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        out["before"] = json.loads(next(x for x in text.splitlines() if x.startswith("RESULT "))[7:])
    out["omp_num_threads"] = os.environ.get("OMP_NUM_THREADS")
    return out


# ------------------------------------------------------------------------------------------------


def run_models(quick: bool) -> dict[str, Any]:
    import torch

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if quick:
        models, raw_batch, iters, n, batch, workers, steps = QUICK_MODELS, 8, 2, 32, 16, 0, (1, 2)
    else:
        models, raw_batch, iters, n, batch, steps = MODELS, 256, 20, 20480, 256, (5, 35)
        workers = min(8, os.cpu_count() or 1)
    rows = []
    with tempfile.TemporaryDirectory(prefix="ssft-gpu-") as tmp:
        for label, name in models.items():
            raw = raw_forward(name, raw_batch, iters, device)
            ext = extraction(name, n, batch, workers, device, Path(tmp) / "cache")
            tr = training(name, workers, steps, device, Path(tmp) / f"train-{len(rows)}")
            reference = tr["images_per_step"] / raw["images_per_s"] + tr["cached_step_s"]
            rows.append(
                {
                    "model": label,
                    "backbone": name,
                    "raw": raw,
                    "extraction": ext,
                    "training": tr,
                    "extraction_share": ext["images_per_s"] / raw["images_per_s"],
                    "step_over_reference": tr["live_step_s"] / reference,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    return {"device": str(device), "quick": quick, "models": rows}


def markdown(payload: dict[str, Any]) -> str:
    md: list[str] = []
    m = payload.get("models_machine") or payload["machine"]
    models = payload.get("models")
    if models:
        gpu = m.get("gpu") or "no GPU (CPU)"
        md += [
            f"### ssft vs the raw model on {gpu} ({m['date']}{', quick sizes' if models['quick'] else ''})",
            "",
            "| model | raw forward (images/s) | extraction (images/s) | share of raw | step without cache (s) | "
            "step on cached features (s) | step / (raw forward of 128 + cached step) |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in models["models"]:
            md.append(
                f"| {r['model']} | {r['raw']['images_per_s']:,.0f} | {r['extraction']['images_per_s']:,.0f} | "
                f"{100 * r['extraction_share']:.0f} % | {r['training']['live_step_s']:.3f} | "
                f"{r['training']['cached_step_s']:.3f} | {r['step_over_reference']:.2f}× |"
            )
        md += [
            "",
            "Raw: transformers `Dinov2Model` forward, batch already on the device, autocast as ssft "
            "uses it (bf16 on a GPU). Extraction: `FeatureStore.build` over 28 px grey uint8 images "
            "resized to 224 px, store=reduced, DataLoader workers "
            f"{models['models'][0]['extraction']['num_workers']}. Training: twinturbo, frozen backbone, "
            "64 + 64 images per step, paper head; mean over the steps after the first few.",
            "",
        ]
    nop = payload.get("noop")
    if nop:
        md += [
            "### The pipeline's own cost per image (no-op backbone, CPU)",
            "",
            "| code | extraction, wall (ms/image) | extraction, CPU (ms/image) | training without cache, "
            "wall (ms/image) | training without cache, CPU (ms/image) |",
            "|---|---|---|---|---|",
        ]
        for k in ("before", "after"):
            if k in nop:
                r = nop[k]
                md.append(
                    f"| {k} | {r['extract_ms_per_image']:.2f} | {r['extract_cpu_ms_per_image']:.2f} | "
                    f"{r['train_ms_per_image']:.2f} | {r['train_cpu_ms_per_image']:.2f} |"
                )
        md += [
            "",
            f"A backbone returning zeros of ViT-S/14's output shape (257 × 384), 28 px grey images "
            f"resized to 224 px, store=reduced, batch 256; training: 128 images per step, identity "
            f"head. {nop['after']['images']} images, torch threads {nop['after']['torch_threads']}, "
            f"OMP_NUM_THREADS={nop.get('omp_num_threads')}. On the CPU the device is the CPU, so the "
            "batched resize runs there too. CPU time is the process's own (all its threads), which a "
            "busy machine inflates far less than wall time.",
        ]
        if nop.get("notes"):
            md += ["", nop["notes"]]
    return "\n".join(md)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes (random:dinov2-tiny); runs on a CPU")
    p.add_argument("--noop", action="store_true", help="only the no-op backbone's pipeline cost")
    p.add_argument("--before-src", help="with --noop: also measure these sources (a src/ folder)")
    p.add_argument("--notes", help="a sentence stored with the no-op figures (e.g. machine load)")
    p.add_argument("--out", help="folder for the result files (default benchmarks/results)")
    p.add_argument("--noop-worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.noop_worker:
        n, steps = (64, (1, 2)) if args.quick else (2048, (1, 6))
        print("RESULT " + json.dumps(noop_here(n, steps)), flush=True)
        return
    out = Path(args.out) if args.out else RESULTS
    name = "gpu-quick" if args.quick else "gpu"
    path = out / f"{name}.json"
    payload: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    payload["machine"] = machine()
    if args.noop:
        payload["noop"] = noop(args.before_src, args.quick)
        if args.notes:
            payload["noop"]["notes"] = args.notes
    else:
        payload["models"] = run_models(args.quick)
        payload["models_machine"] = payload["machine"]
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    text = markdown(payload)
    (out / f"{name}.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
