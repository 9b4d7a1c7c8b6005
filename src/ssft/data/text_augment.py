"""Deterministic token-level views of a text, for the frozen text encoders of the FixMatch family.

A text view drops words and swaps neighbouring words before the encoder sees it (the "easy data
augmentation" operations of Wei & Zou 2019). The draws come from a generator seeded by
``(seed, item, view)``, so a view is the same text every time and can be extracted once into the
feature cache. View 0 is the text itself.

* weak: each word dropped with probability 0.1;
* strong: each word dropped with probability 0.3, then ``max(1, 10 %)`` random swaps of two
  neighbouring words.

At least one word always survives.
"""

from __future__ import annotations

import numpy as np

WEAK_DROP, STRONG_DROP, STRONG_SWAP = 0.1, 0.3, 0.1


def _drop(words: list[str], p: float, rng: np.random.Generator) -> list[str]:
    keep = rng.random(len(words)) >= p
    if not keep.any():
        keep[int(rng.integers(0, len(words)))] = True
    return [w for w, k in zip(words, keep, strict=True) if k]


def text_augment(text: str, *, seed: int, item: int, view: int, strong: bool = False) -> str:
    """One deterministic view of ``text``: words split on white space, joined with one space."""
    if view == 0 and not strong:
        return text
    words = text.split()
    if len(words) < 2:
        return text
    rng = np.random.default_rng([seed, item, view, 606 if strong else 303])
    words = _drop(words, STRONG_DROP if strong else WEAK_DROP, rng)
    if strong and len(words) > 1:
        for _ in range(max(1, int(round(STRONG_SWAP * len(words))))):
            i = int(rng.integers(0, len(words) - 1))
            words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)
