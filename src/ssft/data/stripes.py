"""Striped MNIST: random parallel stripes painted over each digit (the content/style benchmark of arXiv 2410.02069).

Each image gets its own stripe pattern: an angle uniform in [0, pi), a stripe width of about 3 px,
a period (stripe + gap) of about 9 px and a random phase. A pixel at column ``x``, row ``y`` is
striped when ``(x cos a + y sin a + phase) mod period < width``, so about width / period = 1/3 of
the pixels are covered. The parameters depend on the seed and the image's position only, so the
white and the yellow variants built with one seed are aligned image by image.
"""

from __future__ import annotations

import numpy as np

from ssft.errors import DataError

WHITE = (255, 255, 255)
YELLOW = (255, 165, 79)

# Fixed stream tag: the stripes seed is independent of (and may equal) the split seeds.
_STRIPES = 303


def stripe_params(n: int, seed: int) -> dict[str, np.ndarray]:
    """Per-image stripe parameters, each an array of shape ``(n,)`` (float64).

    ``angle`` uniform in [0, pi), ``width`` uniform in [2.5, 3.5] px, ``period`` uniform in
    [8, 10] px, ``phase`` uniform in [0, period).
    """
    if n < 0:
        raise DataError(f"number of images must be >= 0, got {n}")
    rng = np.random.default_rng([seed, _STRIPES])
    angle = rng.uniform(0.0, np.pi, n)
    width = rng.uniform(2.5, 3.5, n)
    period = rng.uniform(8.0, 10.0, n)
    phase = rng.uniform(0.0, 1.0, n) * period
    return {"angle": angle, "width": width, "period": period, "phase": phase}


def _masks(params: dict[str, np.ndarray], idx: np.ndarray | slice, h: int, w: int) -> np.ndarray:
    """Stripe masks ``(B, h, w)`` bool of the images ``idx``, vectorised over images."""
    a = params["angle"][idx][:, None, None]
    width = params["width"][idx][:, None, None]
    period = params["period"][idx][:, None, None]
    phase = params["phase"][idx][:, None, None]
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    d = x[None] * np.cos(a) + y[None] * np.sin(a) + phase
    return np.mod(d, period) < width


def stripe_mask(params: dict[str, np.ndarray], i: int, h: int, w: int) -> np.ndarray:
    """The ``(h, w)`` bool mask of image ``i``'s stripes (True = painted)."""
    return _masks(params, np.asarray([i]), h, w)[0]


def add_stripes(
    images: np.ndarray,
    seed: int,
    color: tuple[int, int, int] = WHITE,
    *,
    params: dict[str, np.ndarray] | None = None,
    chunk: int = 4096,
) -> np.ndarray:
    """Paint stripes of ``color`` over an RGB copy of grey images.

    Args:
        images: uint8 ``(N, H, W)`` grey images.
        seed: seed of :func:`stripe_params` (ignored when ``params`` is given).
        color: RGB of the stripes, e.g. :data:`WHITE` or :data:`YELLOW`.

    Returns:
        uint8 ``(N, H, W, 3)``; the input is left unchanged.
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(f"add_stripes expects uint8 grey images (N, H, W), got {images.dtype} {images.shape}")
    if len(color) != 3 or not all(0 <= int(c) <= 255 for c in color):
        raise DataError(f"stripe colour must be three values in 0..255, got {color!r}")
    n, h, w = images.shape
    if params is None:
        params = stripe_params(n, seed)
    elif len(params["angle"]) != n:
        raise DataError(f"{len(params['angle'])} stripe parameter sets for {n} images")
    out = np.repeat(images[..., None], 3, axis=3)
    col = np.asarray(color, dtype=np.uint8)
    # Chunks bound the float64 temporaries (chunk * H * W * 8 bytes) on large sets.
    for start in range(0, n, chunk):
        sl = slice(start, min(n, start + chunk))
        out[sl][_masks(params, sl, h, w)] = col
    return out
