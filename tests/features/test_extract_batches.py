"""Extraction batches: text sorted by length (little padding) and written back in order; image
batches with DataLoader workers; results identical to one-item-at-a-time extraction."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ssft.backbones.base import Backbone, Features, TextPreprocess
from ssft.features import FeatureStore

TEXTS = [
    "a",
    "a much longer sentence than the others here",
    "hi",
    "medium length text",
    "",
    "another rather long sentence for the batch",
    "ok",
    "short one",
    "x" * 60,
]


class CharText(Backbone):
    """One token per character (max_length 64); records the padded length of every batch."""

    modality = "text"
    num_prefix_tokens = 0

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.name, self.dim = "char-text", 4
        self.preprocess = TextPreprocess(max_length=64)
        self.emb = nn.Embedding(128, 4)
        self.padded: list[int] = []

    def prepare(self, raw: Sequence[str]) -> dict[str, Tensor]:
        ids = [[ord(c) % 128 for c in s[:64]] or [0] for s in raw]
        n = max(len(i) for i in ids)
        out = torch.zeros(len(ids), n, dtype=torch.long)
        mask = torch.zeros(len(ids), n, dtype=torch.bool)
        for r, i in enumerate(ids):
            out[r, : len(i)] = torch.tensor(i)
            mask[r, : len(i)] = True
        return {"ids": out, "mask": mask}

    def encode(self, inputs: dict[str, Tensor]) -> Features:
        self.padded.append(int(inputs["ids"].numel()))
        mask = inputs["mask"]
        tokens = self.emb(inputs["ids"])
        m = mask[..., None].float()
        return Features((tokens * m).sum(1) / m.sum(1), tokens, mask)


def build(root, bb, batch_size, key):
    return FeatureStore.build(
        backbone=bb, inputs=TEXTS, key=key, root=root, store="all", batch_size=batch_size, progress=False
    )


def test_text_is_extracted_sorted_by_length_and_stored_in_order(tmp_path):
    one = CharText()
    ref = build(tmp_path, one, 1, "one")  # no padding at all
    bb = CharText()
    store = build(tmp_path, bb, 3, "three")
    rows = torch.arange(len(TEXTS))
    a, b = ref.get(rows), store.get(rows)
    torch.testing.assert_close(b.pooled, a.pooled, rtol=0, atol=0)
    torch.testing.assert_close(b.tokens, a.tokens, rtol=0, atol=0)
    assert torch.equal(b.mask, a.mask)
    # Sorted batches: 3 x (longest of each third); in input order every batch would be padded
    # to a long text.
    lengths = sorted((max(1, len(t)) for t in TEXTS), reverse=True)
    assert bb.padded == [3 * lengths[0], 3 * lengths[3], 3 * lengths[6]]
    unsorted = sum(3 * max(max(1, len(t)) for t in TEXTS[s : s + 3]) for s in range(0, 9, 3))
    assert sum(bb.padded) < unsorted


def test_image_extraction_with_workers_equals_the_main_process(tmp_path):
    from ssft.backbones import build_backbone
    from ssft.config import BackboneConfig

    bb = build_backbone(BackboneConfig(name="random:dinov2-tiny")).freeze()
    images = [np.random.default_rng(i).integers(0, 256, (28, 28), dtype=np.uint8) for i in range(10)]
    kw = {"backbone": bb, "inputs": images, "root": tmp_path, "store": "reduced", "grid": 2}
    a = FeatureStore.build(key="w0", batch_size=4, progress=False, **kw)
    b = FeatureStore.build(key="w2", batch_size=4, progress=False, num_workers=2, **kw)
    assert (a.path / "tokens.f16").read_bytes() == (b.path / "tokens.f16").read_bytes()
    with torch.no_grad():
        direct = bb.encode(bb.prepare(images))
    torch.testing.assert_close(a.get(torch.arange(10)).pooled.float(), direct.pooled, rtol=1e-3, atol=1e-3)
