"""``ssft extract`` against the raw model forward on CPU (issue 26): items per second.

    python benchmarks/extract_speed.py [--images 2048] [--texts 4096] [--threads 2] [--batch 128]

Two paths over the same items, with the same threads and batch size, in one process:

* raw forward: the network alone (EfficientNet-Lite0 ``extract_features`` at 128 px; MiniLM's
  transformer at 64 tokens) under ``torch.inference_mode`` on input tensors made beforehand (the
  decoding, resizing and tokenising are not timed);
* ssft: :meth:`FeatureStore.build` on the dataset's own inputs (image files on disk, raw strings)
  into an empty cache folder, as ``ssft extract`` runs it: reading, decoding, preprocessing,
  encoding, pooling and the crash-safe writes of the entry.

The ratio (ssft / raw items per second) is the figure of the issue (target >= 0.90). Each path runs
twice, alternating, after a warm-up batch; the better of the two is kept. Run it alone.
Writes ``benchmarks/results/extract_speed.{json,md}``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import require_shared, save  # noqa: E402


def _raw_effnet(backbone: Any, inputs: list[Any], batch: int) -> float:
    x = [backbone.prepare(inputs[s : s + batch])["pixel_values"] for s in range(0, len(inputs), batch)]
    with torch.inference_mode():
        backbone.model.extract_features(x[0][:8])  # warm-up
        t = time.perf_counter()
        for xb in x:
            backbone.model.extract_features(xb)
        return time.perf_counter() - t


def _raw_text(backbone: Any, inputs: list[Any], batch: int) -> float:
    x = [backbone.prepare(inputs[s : s + batch]) for s in range(0, len(inputs), batch)]
    with torch.inference_mode():
        backbone.model(input_ids=x[0]["input_ids"][:8], attention_mask=x[0]["attention_mask"][:8])
        t = time.perf_counter()
        for xb in x:
            backbone.model(input_ids=xb["input_ids"], attention_mask=xb["attention_mask"])
        return time.perf_counter() - t


def _ssft(backbone: Any, inputs: Any, batch: int, store: str, workers: int = 0) -> float:
    from ssft.features import FeatureStore

    with tempfile.TemporaryDirectory(prefix="ssft-speed-") as root:
        t = time.perf_counter()
        FeatureStore.build(backbone=backbone, inputs=inputs, key="speed", root=root, store=store,
                           batch_size=batch, progress=False, num_workers=workers)  # fmt: skip
        return time.perf_counter() - t


def case(name: str, cfg_sets: list[str], n: int, batch: int, workers: int = 0) -> dict[str, Any]:
    from ssft.backbones import build_backbone
    from ssft.config import load_config
    from ssft.data import load_dataset
    from ssft.data.subset import SubsetInputs

    cfg = load_config(None, cfg_sets)
    ds = load_dataset(cfg.data)
    items = ds.test if ds.test is not None else ds.train
    rows = torch.randperm(len(items.inputs), generator=torch.Generator().manual_seed(0))[:n].sort().values
    inputs = SubsetInputs(items.inputs, rows.numpy())
    backbone = build_backbone(cfg.backbone).freeze()
    raw_fn = _raw_effnet if backbone.modality == "image" else _raw_text
    listed = [inputs[i] for i in range(len(inputs))]
    _ssft(backbone, SubsetInputs(items.inputs, rows.numpy()[:batch]), batch, cfg.cache.store)  # warm-up
    raw, ours = [], []
    for _ in range(2):
        raw.append(raw_fn(backbone, listed, batch))
        ours.append(_ssft(backbone, inputs, batch, cfg.cache.store, workers))
    raw_ips, ours_ips = n / min(raw), n / min(ours)
    return {"case": name, "items": n, "batch": batch, "store": cfg.cache.store, "workers": workers,
            "raw_items_per_s": round(raw_ips, 1), "ssft_items_per_s": round(ours_ips, 1),
            "ratio": round(ours_ips / raw_ips, 3), "raw_s": [round(x, 2) for x in raw],
            "ssft_s": [round(x, 2) for x in ours]}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=2048)
    ap.add_argument("--texts", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--only", default="", help="effnet or minilm")
    ap.add_argument(
        "--workers",
        type=int,
        default=0,
        help="train.num_workers of the ssft path (decoding beside the forward)",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cifar, agnews = require_shared("cifar10"), require_shared("ag_news")
    cases = {
        "effnet": ("EfficientNet-Lite0, 128 px, CIFAR-10 JPEG files", [
            "data.name=imagefolder", f"data.root={cifar}", "backbone.name=effnet:lite0",
            "backbone.image_size=128", "cache.store=pooled"], args.images),
        "minilm": ("MiniLM-L6, 64 tokens, AG News texts", [
            "data.name=ag_news", f"data.root={agnews}", "backbone.name=hf:sentence-transformers/all-MiniLM-L6-v2",
            "backbone.max_length=64", "cache.store=pooled"], args.texts),
    }  # fmt: skip
    rows = []
    for key, (label, sets, n) in cases.items():
        if args.only and key != args.only:
            continue
        rows.append({"label": label, **case(key, sets, n, args.batch, args.workers)})
        print(rows[-1], flush=True)
    lines = [
        f"Command: `python benchmarks/extract_speed.py {' '.join(sys.argv[1:])}` ({args.threads} threads, "
        f"batch {args.batch}, train.num_workers={args.workers}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}).",
        "",
        "| backbone | items | raw forward items/s | ssft extract items/s | ratio |",
        "|---|---|---|---|---|",
        *[f"| {r['label']} | {r['items']:,} | {r['raw_items_per_s']} | {r['ssft_items_per_s']} | {r['ratio']:.2f} |"
          for r in rows],
    ]  # fmt: skip
    save(
        "extract_speed" + (f"_{args.only}" if args.only else ""),
        {"rows": rows, "args": vars(args)},
        "\n".join(lines),
    )


if __name__ == "__main__":
    main()
