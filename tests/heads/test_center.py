"""``model.center``: the training pool's mean pooled feature, measured once, subtracted before the
projector, saved with the model and applied again by a loaded run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from ssft.api import load_run
from ssft.backbones.base import Features
from ssft.config import ModelConfig, load_config
from ssft.heads.model import SSFTModel
from ssft.run.runner import fit
from ssft.train.center import training_pool_mean


class _Stub(torch.nn.Module):
    dim = 4


def test_head_sees_centred_features():
    torch.manual_seed(0)
    centred = SSFTModel(_Stub(), ModelConfig(projector="identity", center=True), 3)
    torch.manual_seed(0)
    plain = SSFTModel(_Stub(), ModelConfig(projector="identity"), 3)
    mean = torch.tensor([1.0, -2.0, 0.5, 3.0])
    centred.set_feature_mean(mean)
    x = torch.randn(5, 4)
    got = centred.head(Features(x)).scores
    want = plain.head(Features(x - mean)).scores
    assert torch.allclose(got, want, atol=1e-6)
    assert not torch.allclose(got, plain.head(Features(x)).scores, atol=1e-3)
    with pytest.raises(ValueError, match="model.center=true"):
        plain.set_feature_mean(mean)
    with pytest.raises(ValueError, match=r"\(4,\)"):
        centred.set_feature_mean(torch.zeros(3))


def test_transformer_projector_centres_its_tokens_by_the_pool_token_mean():
    cfg = ModelConfig(projector="transformer", width=8, depth=1, heads=2, center=True)
    torch.manual_seed(0)
    centred = SSFTModel(_Stub(), cfg, 3)
    torch.manual_seed(0)
    plain = SSFTModel(_Stub(), ModelConfig(projector="transformer", width=8, depth=1, heads=2), 3)
    mean, token_mean = torch.tensor([1.0, -2.0, 0.5, 3.0]), torch.tensor([0.5, 4.0, -1.0, 2.0])
    centred.set_feature_mean(mean, token_mean=token_mean)
    centred.eval(), plain.eval()
    x, t = torch.randn(5, 4), torch.randn(5, 6, 4)
    got = centred.head(Features(x, t)).scores
    assert torch.allclose(got, plain.head(Features(x - mean, t - token_mean)).scores, atol=1e-6)
    assert not torch.allclose(got, plain.head(Features(x, t)).scores, atol=1e-3)
    with pytest.raises(ValueError, match="token_mean"):
        centred.set_feature_mean(mean)


def test_a_state_saved_without_the_means_loads_as_uncentred():
    # runs saved before the transformer projector was centred hold no mean: they load with zeros
    cfg = ModelConfig(projector="transformer", width=8, depth=1, heads=2)
    old = SSFTModel(_Stub(), cfg, 3)
    state = old.state_dict()
    assert "feature_mean" not in state and "token_mean" not in state
    new = SSFTModel(_Stub(), ModelConfig(projector="transformer", width=8, depth=1, heads=2, center=True), 3)
    new.feature_mean.fill_(1.0), new.token_mean.fill_(1.0)
    new.load_state_dict(state)
    assert new.feature_mean.abs().sum() == 0 and new.token_mean.abs().sum() == 0


class _Rows:
    """A feature source whose pooled feature of item i is (i, 2i)."""

    def get(self, rows):
        r = torch.as_tensor(np.asarray(rows), dtype=torch.float32)
        return Features(torch.stack([r, 2 * r], dim=1))


class _Split:
    labeled = np.array([1, 3])
    unlabeled = np.array([5, 7])
    validation = np.array([50, 60])  # labelled items held out for selection: never in the mean
    test = np.array([100, 200])


def test_training_pool_mean_reads_only_the_pool():
    mean = training_pool_mean(_Rows(), _Split(), seed=0, batch_size=3)
    assert mean.tolist() == pytest.approx([4.0, 8.0])  # items 1, 3, 5, 7; never 50, 60, 100 or 200


def test_a_run_saves_the_pool_mean_and_a_loaded_run_applies_it(tmp_path):
    cfg = load_config(
        "demo",
        [
            "model.projector=identity",
            "model.center=true",
            "train.steps=3",
            f"cache.dir={tmp_path / 'cache'}",
        ],
    )
    r = fit(cfg, tmp_path / "run")
    saved = load_file(str(r.run_dir / "model.safetensors"))["model.feature_mean"]
    assert saved.abs().sum() > 0
    run = load_run(r.run_dir, device="cpu")
    assert torch.equal(run.method.model.feature_mean, saved)
    res = json.loads((r.run_dir / "results.json").read_text())
    split = json.loads((r.run_dir / "split.json").read_text())
    from ssft.data import load_dataset

    ds = load_dataset(cfg.data)
    assert split["test_source"] == "train"
    sample_test_items = [ds.train.inputs[i] for i in split["test"]]
    pred = run.predict(sample_test_items).probabilities.argmax(1)
    y = ds.train.labels[split["test"]]
    assert float((pred == y).mean()) == pytest.approx(res["test_accuracy"], abs=1e-9)


@pytest.mark.parametrize(
    "keys, want",
    [
        (["method.name=fixmatch"], True),
        (["method.name=freematch"], True),
        (["method.name=softmatch"], True),
        (["method.name=twinturbo"], False),
        (["method.name=supervised"], False),
        (["method.name=fixmatch", "model.center=false"], False),
        (["method.name=twinturbo", "model.center=true"], True),
        (["method.name=fixmatch", "model.projector=transformer"], True),  # its tokens are centred
        (["method.name=freematch", "model.projector=transformer"], True),
        (["method.name=twinturbo", "model.projector=transformer"], False),
    ],
)
def test_the_default_is_the_methods(keys, want):
    from ssft.methods.base import centers_input

    projector = [] if any(k.startswith("model.projector") for k in keys) else ["model.projector=identity"]
    assert centers_input(load_config(None, [*projector, *keys])) is want


def test_pool_token_mean_counts_valid_tokens_only():
    from ssft.train.center import training_pool_means

    class _Tokens:
        def get(self, rows):
            r = torch.as_tensor(np.asarray(rows), dtype=torch.float32)
            tokens = torch.stack([r, r + 100.0], dim=1)[..., None]  # (B, 2, 1); token 2 is padding
            return Features(r[:, None], tokens, torch.tensor([[True, False]] * len(r)))

    pooled, tokens = training_pool_means(_Tokens(), _Split(), seed=0, batch_size=3, tokens=True)
    assert pooled.tolist() == [4.0] and tokens.tolist() == [4.0]


def test_mnist_offline_freematch_runs_centred(tmp_path):
    # the documented `--config mnist-offline --set method.name=freematch` (transformer projector)
    cfg = load_config("mnist-offline", ["method.name=freematch"])
    assert cfg.model.projector == "transformer"
    from ssft.methods.base import centers_input

    assert centers_input(cfg)


def test_a_transformer_run_saves_both_means_and_a_loaded_run_applies_them(tmp_path):
    cfg = load_config(
        "demo",
        [
            "method.name=fixmatch",
            "model.projector=transformer",
            "model.width=16",
            "model.depth=1",
            "model.heads=2",
            "train.steps=2",
            f"cache.dir={tmp_path / 'cache'}",
        ],
    )
    r = fit(cfg, tmp_path / "run")
    saved = load_file(str(r.run_dir / "model.safetensors"))
    assert saved["model.token_mean"].abs().sum() > 0 and saved["model.feature_mean"].abs().sum() > 0
    run = load_run(r.run_dir, device="cpu")
    assert torch.equal(run.method.model.token_mean, saved["model.token_mean"])
