"""Images travel as uint8 and are resized and normalised on the device in one batch: the result
must match the per-image reference (``images_to_tensor``) so cached features stay comparable.

Stated tolerance: 1e-5 (float rounding) where images share a shape no larger than 4x the target
area, or come in mixed shapes; for larger images, resized once to the target size and rounded to
uint8 before they travel, half a grey level: 0.5 / 255 / min(std) + 1e-5.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from ssft.backbones.base import ImageCollate, ImagePreprocess, images_to_tensor, prepare_on_device
from ssft.config import BackboneConfig

PRE = ImagePreprocess(size=32, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
EXACT = 1e-5
HALF_LEVEL = 0.5 / 255 / min(PRE.std) + 1e-5


def device_path(images, pre=PRE):
    batch = pickle.loads(pickle.dumps(ImageCollate(pre.size)))(images)  # as a worker would
    return prepare_on_device(batch["pixels"], pre), batch


def rng_images(shape, n=5, seed=0, dtype=np.uint8):
    top = 65535 if dtype == np.uint16 else 255
    return [np.random.default_rng((seed, i)).integers(0, top + 1, size=shape, dtype=dtype) for i in range(n)]


@pytest.mark.parametrize(
    "shape",
    [(28, 28), (28, 28, 1), (32, 32, 3), (17, 23, 3), (20, 20, 4), (64, 64, 3)],
    ids=["grey", "grey-1ch", "rgb-same-size", "rgb-odd", "rgba", "rgb-2x"],
)
def test_uniform_batches_match_the_per_image_path(shape):
    images = rng_images(shape)
    got, batch = device_path(images)
    assert batch["pixels"].dtype == torch.uint8
    assert tuple(batch["pixels"].shape[1:3]) == shape[:2]  # stored size, not the target size
    assert batch["pixels"].shape[-1] == (1 if len(shape) == 2 or shape[2] == 1 else 3)
    torch.testing.assert_close(got, images_to_tensor(images, PRE), rtol=0, atol=EXACT)


def test_sixteen_bit_images_match():
    images = rng_images((30, 30, 3), dtype=np.uint16)
    got, _ = device_path(images)
    torch.testing.assert_close(got, images_to_tensor(images, PRE), rtol=0, atol=EXACT)


def test_mixed_shapes_are_resized_in_the_worker_exactly():
    images = rng_images((28, 28)) + rng_images((40, 36, 3), n=2, seed=1) + rng_images((32, 32, 3), n=1)
    got, batch = device_path(images)
    assert tuple(batch["pixels"].shape) == (8, 32, 32, 3) and batch["pixels"].dtype == torch.float32
    torch.testing.assert_close(got, images_to_tensor(images, PRE), rtol=0, atol=EXACT)


def test_large_images_travel_resized_in_uint8_within_half_a_grey_level():
    images = rng_images((120, 90, 3), n=3)  # area > 4x the 32x32 target
    got, batch = device_path(images)
    assert tuple(batch["pixels"].shape) == (3, 32, 32, 3) and batch["pixels"].dtype == torch.uint8
    ref = images_to_tensor(images, PRE)
    err = (got - ref).abs().max().item()
    assert err <= HALF_LEVEL
    assert err > EXACT  # the rounding is real: the tolerance above is what it costs


def test_backbone_inputs_and_features_match_the_per_image_path():
    from ssft.backbones import build_backbone

    bb = build_backbone(BackboneConfig(name="random:dinov2-tiny")).freeze()
    images = rng_images((28, 28), n=6)
    new = bb.prepare(images)["pixel_values"]
    old = images_to_tensor(images, bb.preprocess)
    torch.testing.assert_close(new, old, rtol=0, atol=EXACT)
    with torch.no_grad():
        a, b = bb.encode({"pixel_values": new}), bb.encode({"pixel_values": old})
    torch.testing.assert_close(a.tokens, b.tokens, rtol=0, atol=1e-4)


def test_bad_images_are_refused_by_name():
    with pytest.raises(ValueError, match=r"expected an image of shape"):
        ImageCollate(32)([np.zeros((4, 4, 2), dtype=np.uint8)])
    with pytest.raises(ValueError, match="expected uint8"):
        ImageCollate(32)([np.zeros((4, 4, 3), dtype=np.float32)])
    with pytest.raises(ValueError, match=r"pixels of shape"):
        prepare_on_device(torch.zeros(2, 3, 8, 8, dtype=torch.uint8), PRE)
