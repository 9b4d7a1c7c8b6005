"""``ssft show-data``: look at the samples as the model sees them.

Image data: the first labelled and unlabelled training samples of the run's split, passed through
the backbone's own ``prepare`` (resize, normalise), un-normalised and tiled into a PNG with the class
name under each labelled image. Text data: the texts with their labels in a ``.txt`` file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ssft.config import Config
from ssft.errors import DataError

_CAPTION = 12  # pixels of caption band under each tile
_MIN_TILE = 96  # small inputs (28 px digits) are enlarged to this, so a caption fits under each
_LINE = 14  # pixels per legend line


def enlarge(tile: np.ndarray, size: int = _MIN_TILE) -> np.ndarray:
    """Nearest-neighbour enlargement by a whole factor so the tile is at least ``size`` px wide."""
    factor = -(-size // max(1, tile.shape[1]))
    return tile if factor <= 1 else np.repeat(np.repeat(tile, factor, axis=0), factor, axis=1)


def with_legend(grid: np.ndarray, lines: Sequence[str], background: int = 32) -> np.ndarray:
    """``grid`` with a band of text lines above it (what the tiles are, how to read them)."""
    from PIL import Image, ImageDraw

    band = np.full((_LINE * len(lines) + 6, grid.shape[1], 3), background, dtype=np.uint8)
    pil = Image.fromarray(np.concatenate([band, grid], axis=0))
    draw = ImageDraw.Draw(pil)
    for i, text in enumerate(lines):
        draw.text((4, 3 + i * _LINE), text, fill=(255, 255, 255))
    return np.asarray(pil, dtype=np.uint8)


def make_grid(
    images: Sequence[np.ndarray],
    cols: int,
    *,
    captions: Sequence[str] | None = None,
    pad: int = 2,
    background: int = 32,
) -> np.ndarray:
    """Tile uint8 images into one ``(rows * (H + pad + c), cols * (W + pad), 3)`` uint8 array.

    ``H, W`` are the largest image sizes (smaller images are centred), ``c`` is the caption band
    height (0 when ``captions`` is None). Grey ``(H, W)`` and RGBA images are converted to RGB.
    """
    if cols < 1:
        raise ValueError(f"cols must be >= 1, got {cols}")
    imgs = []
    for im in images:
        a = np.asarray(im)
        if a.dtype != np.uint8:
            raise ValueError(f"make_grid expects uint8 images, got {a.dtype}")
        if a.ndim == 2:
            a = a[:, :, None]
        if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
            raise ValueError(f"expected images of shape (H, W[, 1|3|4]), got {a.shape}")
        imgs.append(np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a[:, :, :3])
    if captions is not None and len(captions) != len(imgs):
        raise ValueError(f"{len(captions)} captions for {len(imgs)} images")
    if not imgs:
        return np.full((pad, pad, 3), background, dtype=np.uint8)
    h = max(a.shape[0] for a in imgs)
    w = max(a.shape[1] for a in imgs)
    cap = _CAPTION if captions is not None else 0
    rows = -(-len(imgs) // cols)
    th, tw = h + pad + cap, w + pad
    grid = np.full((rows * th, cols * tw, 3), background, dtype=np.uint8)
    for i, a in enumerate(imgs):
        r, c = divmod(i, cols)
        y = r * th + (h - a.shape[0]) // 2
        x = c * tw + (w - a.shape[1]) // 2
        grid[y : y + a.shape[0], x : x + a.shape[1]] = a
    if captions is not None and any(captions):
        from PIL import Image, ImageDraw

        pil = Image.fromarray(grid)
        draw = ImageDraw.Draw(pil)
        for i, text in enumerate(captions):
            if text:
                r, c = divmod(i, cols)
                draw.text((c * tw + 1, r * th + h), text[: max(1, w // 6)], fill=(255, 255, 255))
        grid = np.asarray(pil, dtype=np.uint8)
    return grid


def _pick(split_labeled: np.ndarray, split_unlabeled: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Half of ``n`` (rounded up) labelled, half unlabelled; when one side runs short the other fills in."""
    n_lab = min(split_labeled.size, max(-(-n // 2), n - split_unlabeled.size))
    n_ulb = min(split_unlabeled.size, n - n_lab)
    return split_labeled[:n_lab], split_unlabeled[:n_ulb]


def _pixels(inputs: dict, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """The backbone's prepared pixel tensor (B, 3, S, S), un-normalised -> uint8 (B, S, S, 3)."""
    import torch

    x = inputs.get("pixel_values")
    if x is None:
        x = next((v for v in inputs.values() if isinstance(v, torch.Tensor) and v.ndim == 4), None)
    if x is None:
        raise DataError(f"backbone.prepare returned no image tensor (keys: {', '.join(inputs)})")
    x = x.detach().float().cpu()
    m = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    x = (x * s + m).clamp(0, 1).mul(255).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def show_data(cfg: Config, out: Path, n: int = 64) -> Path:
    """Write up to ``n`` training samples of the run's split to ``out`` (PNG) and return its path.

    For text data the samples go to ``out.with_suffix('.txt')``, whose path is returned.
    """
    from ssft.data import load_dataset
    from ssft.data.splits import make_split

    if n < 1:
        raise DataError(f"show-data needs n >= 1 samples, got {n}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from ssft.backbones.auto import resolve_auto

    dataset = load_dataset(cfg.data)
    cfg = resolve_auto(cfg, dataset)
    split = make_split(dataset, cfg.data)
    lab, ulb = _pick(split.labeled, split.unlabeled, n)
    idx = np.concatenate([lab, ulb]).astype(np.int64)
    names = [dataset.classes[int(dataset.train.labels[i])] for i in lab] + [""] * ulb.size

    if dataset.modality == "text":
        path = out.with_suffix(".txt")
        texts = dataset.train.inputs
        lines = [f"# {dataset.name}: {lab.size} labelled, then {ulb.size} unlabelled training samples"]
        for j, i in enumerate(idx):
            tag = f"[{names[j]}]" if names[j] else "[unlabelled]"
            text = str(texts[int(i)]).replace("\r", " ").replace("\n", " ")
            lines.append(f"{tag}\t{text}")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    from ssft.backbones import build_backbone

    backbone = build_backbone(cfg.backbone)
    pre = backbone.preprocess
    raw = [dataset.train.inputs[int(i)] for i in idx]
    tiles: list[np.ndarray] = []
    for start in range(0, len(raw), 32):
        inputs = backbone.prepare(raw[start : start + 32])
        tiles.extend(_pixels(inputs, pre.mean, pre.std))  # type: ignore[union-attr]
    size = tiles[0].shape[1] if tiles else 0
    tiles = [enlarge(t) for t in tiles]
    cols = max(4, int(np.ceil(np.sqrt(len(tiles)))))
    grid = with_legend(
        make_grid(tiles, cols, captions=names),
        [
            f"{dataset.name}: {lab.size} labelled (class under each) then {ulb.size} unlabelled (no caption)",
            f"as {getattr(backbone, 'name', cfg.backbone.name)} sees them: {size} px after its resize and normalisation (shown enlarged)",
        ],
    )

    from PIL import Image

    path = out if out.suffix.lower() == ".png" else out.with_suffix(".png")
    Image.fromarray(grid).save(path)
    return path
