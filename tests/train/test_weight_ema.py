"""train.ema_weights: the average by hand, evaluation and saving read it, and a resumed run
continues the very same average."""

from __future__ import annotations

import contextlib

import pytest
import torch
from safetensors.torch import load_file

from ssft.config import load_config
from ssft.errors import ConfigError
from ssft.train.weight_ema import WeightEMA


def test_the_average_by_hand_with_its_warm_up():
    lin = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        lin.weight.fill_(0.0)
    ema = WeightEMA(lin, [lin.weight], decay=0.9)
    want = 0.0
    for t, value in enumerate([1.0, 2.0, 3.0, 4.0, 5.0]):
        with torch.no_grad():
            lin.weight.fill_(value)
        d = min(0.9, (1 + t) / (10 + t))
        assert ema.rate() == pytest.approx(d)
        ema.update()
        want = d * want + (1 - d) * value
        assert ema.shadow["weight"].item() == pytest.approx(want)
    with ema.applied():
        assert lin.weight.item() == pytest.approx(want)
    assert lin.weight.item() == 5.0  # the live weights come back
    state = ema.state_dict()
    other = WeightEMA(lin, [lin.weight], decay=0.9)
    other.load_state_dict(state)
    assert other.updates == 5 and other.shadow["weight"].item() == pytest.approx(want)


def test_only_the_given_parameters_are_averaged_and_bad_momenta_refused():
    m = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    ema = WeightEMA(m, list(m[0].parameters()), decay=0.5)
    assert set(ema.shadow) == {"0.weight", "0.bias"}
    with pytest.raises(ValueError, match="ema_weights"):
        WeightEMA(m, list(m.parameters()), decay=1.0)
    with pytest.raises(ConfigError, match="train.ema_weights"):
        load_config(None, ["train.ema_weights=1.0"])


FAST = [
    "method.name=supervised",
    "model.projector=identity",
    "train.steps=8",
    "train.batch_size=16",
    "train.log_every=1",
    "train.progress=false",
    "train.device=cpu",
]


def test_the_saved_model_is_the_average_and_resume_is_exact(tmp_path, monkeypatch):
    import ssft.train.trainer as trainer
    from ssft.errors import Interrupted
    from ssft.run.runner import fit

    c = [*FAST, f"cache.dir={tmp_path / 'c'}", "train.ema_weights=0.9"]
    whole = fit(load_config("demo", c), tmp_path / "whole")
    plain = fit(load_config("demo", [*FAST, f"cache.dir={tmp_path / 'c'}"]), tmp_path / "plain")
    w_whole = load_file(str(whole.run_dir / "model.safetensors"))
    w_plain = load_file(str(plain.run_dir / "model.safetensors"))
    # the same run without the average ends at the live weights; with it, elsewhere
    assert any(not torch.equal(w_whole[k], w_plain[k]) for k in w_plain)
    ckpt = torch.load(whole.run_dir / "checkpoint.pt", weights_only=True)
    assert ckpt["weight_ema"]["updates"] == 8
    key = next(k for k in w_whole if k.startswith("model.classifier"))
    assert torch.equal(ckpt["weight_ema"]["shadow"][key], w_whole[key])

    class StopAfterThree(dict):
        """The stop flag as SIGTERM would set it after step 3 (read once per step)."""

        reads = 0

        def __getitem__(self, key):
            StopAfterThree.reads += 1
            return StopAfterThree.reads >= 3

    @contextlib.contextmanager
    def stop_soon():
        yield StopAfterThree()

    monkeypatch.setattr(trainer, "stop_signals", stop_soon)
    with pytest.raises(Interrupted, match="step 3/8"):
        fit(load_config("demo", c), tmp_path / "cut")
    monkeypatch.undo()
    resumed = fit(load_config("demo", c), tmp_path / "cut", resume=True)
    w_resumed = load_file(str(resumed.run_dir / "model.safetensors"))
    assert all(torch.equal(w_resumed[k], w_whole[k]) for k in w_whole)
    assert resumed.results["test_accuracy"] == whole.results["test_accuracy"]
