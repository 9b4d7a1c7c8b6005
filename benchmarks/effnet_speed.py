"""Extraction speed of the ImageNet EfficientNet-Lite0 backbone on this machine, per resolution.

    python benchmarks/effnet_speed.py --images 512

Times ssft's own path (``prepare`` then ``encode`` under inference mode, batches of 128) on real
CIFAR-10 images, after one warm-up batch, and projects the time to extract 10,000 images: the
figure that sets the presets' resolutions (128 px for CIFAR-10, 64 px for the 28 px MNIST digits).
Run it alone: anything else running on the machine slows it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import require_shared, save  # noqa: E402
from ssft.backbones import build_backbone  # noqa: E402
from ssft.config import BackboneConfig  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=512)
    p.add_argument("--sizes", default="64,128,224")
    p.add_argument("--batch", type=int, default=128)
    args = p.parse_args()
    root = require_shared("cifar10")
    files = sorted(root.glob("*/*.jpg"))[:: max(1, 10000 // args.images)][: args.images]
    imgs = [np.asarray(Image.open(f).convert("RGB")) for f in files]
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        b = build_backbone(BackboneConfig(name="effnet:lite0", image_size=size)).freeze()
        with torch.inference_mode():
            b.encode(b.prepare(imgs[: args.batch]))  # warm-up
            t = time.perf_counter()
            for i in range(0, len(imgs), args.batch):
                b.encode(b.prepare(imgs[i : i + args.batch]))
            dt = time.perf_counter() - t
        rate = len(imgs) / dt
        rows.append({"image_size": size, "images": len(imgs), "seconds": dt, "images_per_s": rate})
        print(f"{size} px: {rate:.1f} images/s, 10,000 images in {10000 / rate / 60:.1f} min", flush=True)
    md = ["| image size | tokens | images/s | 10,000 images |", "|---|---|---|---|"]
    for r in rows:
        n = (r["image_size"] // 32) ** 2
        md.append(
            f"| {r['image_size']} px | {n} | {r['images_per_s']:.1f} | {10000 / r['images_per_s'] / 60:.1f} min |"
        )
    save(
        "effnet_speed",
        {"command": " ".join(sys.argv), "threads": torch.get_num_threads(), "rows": rows},
        "\n".join(md),
    )


if __name__ == "__main__":
    main()
