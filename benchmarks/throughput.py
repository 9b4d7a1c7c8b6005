"""Feature-cache throughput: training-epoch time with and without the cache, extraction speed and
peak host memory as the number of images grows.

    python benchmarks/throughput.py            # the full measurement (about 25 min on 2 cores)
    python benchmarks/throughput.py --quick    # a smoke run of the script itself

A. One twinturbo epoch on 2,000 MNIST images (40 labelled + 1,960 unlabelled from the MNIST test
   set in ../shared/data) with ``random:dinov2-small`` at 224 px on the CPU, for two head sizes:
   no cache (the backbone runs at every step; timed over a few steps and scaled to the epoch's
   step count), the full-token cache and the reduced cache (CLS + 4×4 grid), each timed over a
   whole epoch. Extraction time is reported separately: it is paid once per dataset and backbone.
B. Extraction of 1k, 4k and 10k MNIST images, each in a fresh subprocess, with its images/s and
   the subprocess's peak resident memory.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import require_shared, save  # noqa: E402

HEADS = {
    "paper head (width 256, depth 2)": ["model.width=256", "model.depth=2", "model.heads=4"],
    "small head (width 64, depth 1)": ["model.width=64", "model.depth=1", "model.heads=4"],
}


def epoch_times(quick: bool, cache_dir: Path, runs: Path) -> list[dict]:
    from ssft.config import load_config
    from ssft.run.runner import fit

    mnist = require_shared("mnist")
    n_ulb = 200 if quick else 1960
    base = [
        f"data.root={mnist}",
        "data.labels_per_class=4",
        f"data.max_unlabeled={n_ulb}",
        "data.max_test=100",
        "backbone.name=random:dinov2-small",
        "method.name=twinturbo",
        "train.batch_size=64",
        "train.unlabeled_ratio=1",
        "train.progress=false",
        "train.device=cpu",
        "train.log_every=1",
        f"cache.dir={cache_dir}",
        "cache.batch_size=64",
    ]
    if quick:
        base += ["backbone.image_size=56"]
    live_steps = 2 if quick else 3
    rows = []
    for head, head_keys in HEADS.items():
        row: dict = {"head": head}
        cfg = load_config(
            "mnist-offline", [*base, *head_keys, "cache.enabled=false", f"train.steps={live_steps}"]
        )
        r = fit(cfg, runs / f"live-{len(rows)}").results
        steps_per_epoch = r["steps_per_epoch"]
        row["steps_per_epoch"] = steps_per_epoch
        row["no_cache_step_s"] = r["train_seconds"] / live_steps
        row["no_cache_epoch_s"] = row["no_cache_step_s"] * steps_per_epoch
        for store in ("all", "reduced"):
            cfg = load_config("mnist-offline", [*base, *head_keys, f"cache.store={store}", "train.epochs=1"])
            r = fit(cfg, runs / f"{store}-{len(rows)}").results
            assert r["steps"] == steps_per_epoch
            row[f"{store}_epoch_s"] = r["train_seconds"]
            row[f"{store}_extract_s"] = r["extract_seconds"]
            row[f"{store}_ratio"] = row["no_cache_epoch_s"] / r["train_seconds"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM). Unlike ``ru_maxrss``, it does not carry over
    the parent's peak through fork + exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def extract_worker(n: int, image_size: int, store: str, cache_dir: str) -> None:
    """Runs in a fresh process: extract n MNIST images, print images/s and peak RSS as JSON."""
    import torch

    from ssft.backbones import build_backbone
    from ssft.config import BackboneConfig, DataConfig
    from ssft.data import load_dataset
    from ssft.data.subset import SubsetInputs
    from ssft.features import FeatureStore

    data = load_dataset(DataConfig(name="mnist", root=str(require_shared("mnist"))))
    inputs = SubsetInputs(data.train.inputs, list(range(n)))
    backbone = build_backbone(BackboneConfig(name="random:dinov2-small", image_size=image_size)).freeze()
    rss0 = peak_rss_mb()
    t0 = time.perf_counter()
    store_ = FeatureStore.build(
        backbone=backbone,
        inputs=inputs,
        key=f"bench-{n}-{image_size}-{store}",
        root=cache_dir,
        store=store,
        batch_size=64,
        device="cpu",
        progress=False,
    )
    seconds = time.perf_counter() - t0
    out = {
        "images": n,
        "image_size": image_size,
        "store": store,
        "seconds": seconds,
        "images_per_s": n / seconds,
        "forward_passes": store_.forward_passes,
        "cache_mb": store_.nbytes / 2**20,
        "peak_rss_before_mb": rss0,
        "peak_rss_mb": peak_rss_mb(),
        "torch_threads": torch.get_num_threads(),
    }
    print("RESULT " + json.dumps(out), flush=True)


def extraction_scaling(quick: bool, cache_dir: Path) -> list[dict]:
    sizes = [100, 200, 400] if quick else [1000, 4000, 10000]
    image_size = 56 if quick else 84
    rows = []
    for n in sizes:
        cmd = [sys.executable, __file__, "--extract-worker", str(n), str(image_size), "all", str(cache_dir)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        row = json.loads(next(x for x in out.splitlines() if x.startswith("RESULT "))[7:])
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes, to check the script runs")
    p.add_argument("--extract-worker", nargs=4, help=argparse.SUPPRESS)
    p.add_argument("--skip-epochs", action="store_true", help="only the extraction scaling")
    args = p.parse_args()
    if args.extract_worker:
        n, size, store, cache = args.extract_worker
        extract_worker(int(n), int(size), store, cache)
        return
    with tempfile.TemporaryDirectory(prefix="ssft-bench-") as tmp:
        tmp_path = Path(tmp)
        os.environ["SSFT_CACHE"] = str(tmp_path / "cache")
        if args.skip_epochs:  # keep the epoch table of the previous full run
            previous = Path(__file__).resolve().parent / "results" / "throughput.json"
            epochs = json.loads(previous.read_text())["epochs"] if previous.is_file() else []
        else:
            epochs = epoch_times(args.quick, tmp_path / "cache", tmp_path / "runs")
        scaling = extraction_scaling(args.quick, tmp_path / "cache-scaling")
    md = []
    if epochs:
        md += [
            "### Training epoch, cache vs no cache (twinturbo, `random:dinov2-small` 224 px, 2,000 MNIST images, CPU)",
            "",
            "| head | steps/epoch | no cache: epoch (s) | full-token cache: epoch (s) | ratio | reduced cache: epoch (s) | ratio | extraction, full / reduced (s, once) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in epochs:
            md.append(
                f"| {r['head']} | {r['steps_per_epoch']} | {r['no_cache_epoch_s']:.1f} | {r['all_epoch_s']:.2f} | "
                f"{r['all_ratio']:.1f}× | {r['reduced_epoch_s']:.2f} | {r['reduced_ratio']:.0f}× | "
                f"{r['all_extract_s']:.0f} / {r['reduced_extract_s']:.0f} |"
            )
        md += [
            "",
            "No-cache epoch time = mean step time over the first steps × steps per epoch (the backbone "
            "runs on 64 labelled + 64 unlabelled images at every step). Cached epochs are timed whole.",
            "",
        ]
    md += [
        f"### Extraction vs number of images (`random:dinov2-small`, {scaling[0]['image_size']} px, full tokens, fresh process each)",
        "",
        "| images | seconds | images/s | cache size (MiB) | peak RSS before extraction (MiB) | peak RSS after (MiB) |",
        "|---|---|---|---|---|---|",
    ]
    for r in scaling:
        md.append(
            f"| {r['images']} | {r['seconds']:.1f} | {r['images_per_s']:.1f} | {r['cache_mb']:.0f} | "
            f"{r['peak_rss_before_mb']:.0f} | {r['peak_rss_mb']:.0f} |"
        )
    md += [
        "",
        "Peak RSS is the process's VmHWM: data set and backbone loaded (before), then after the whole "
        "extraction. The features go to disk chunk by chunk, so the peak does not grow with the "
        "number of images.",
    ]
    save(
        "throughput" + ("-quick" if args.quick else ""), {"epochs": epochs, "scaling": scaling}, "\n".join(md)
    )


if __name__ == "__main__":
    main()
