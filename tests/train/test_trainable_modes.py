"""Trainable backbone modes end to end: every method in every mode, LoRA runs saved and reloaded,
the backbone's own learning rate, layer-wise decay, gradient checkpointing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ssft.backbones import build_backbone
from ssft.backbones.trainable import configure_trainable
from ssft.config import load_config
from ssft.heads.model import SSFTModel
from ssft.methods import build_method
from ssft.run.runner import fit
from ssft.train.checkpoint import load_checkpoint
from ssft.train.optim import parameter_groups

FAST = ["train.steps=2", "train.batch_size=8", "data.labels_per_class=2", "train.log_every=1",
        "data.max_unlabeled=40", "data.max_test=40", "cache.strong_views=1"]  # fmt: skip
MODES = {
    "frozen": ["backbone.frozen=true"],
    "last1": ["backbone.frozen=false", "backbone.train_blocks=1"],
    "full": ["backbone.frozen=false"],
    "lora": ["backbone.frozen=false", "backbone.lora=true"],
}
METHODS = ["supervised", "twinturbo", "content_style", "fixmatch", "freematch", "softmatch"]


def cfg(*extra: str):
    return load_config("demo", [*FAST, *extra])


def fresh_backbone_state():
    return build_backbone(cfg().backbone).state_dict()


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("method", METHODS)
def test_every_method_trains_in_every_mode(tmp_path, method, mode):
    if mode == "lora":
        pytest.importorskip("peft")
    r = fit(cfg(f"method.name={method}", f"cache.dir={tmp_path / 'c'}", *MODES[mode]), tmp_path / "run")
    res = r.results
    assert res["steps"] == 2 and res["backbone_mode"] == mode
    lines = [json.loads(x) for x in (r.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(x["loss"]) for x in lines)
    before = fresh_backbone_state()
    after = {
        k.removeprefix("model.backbone."): v
        for k, v in load_checkpoint(r.run_dir / "checkpoint.pt")["method"].items()
    }
    after = {k: v for k, v in after.items() if k in before or ".lora_" in k or ".base_layer." in k}
    if mode == "frozen":
        assert res["backbone_trainable_params"] == 0
        assert not any(k in after for k in before)  # rebuilt from its name: no copy in the checkpoint
        return
    # A trainable backbone runs at every step: the cache is bypassed, nothing is extracted.
    assert res["backbone_forward_passes_extraction"] == 0 and res["backbone_trainable_params"] > 0
    if mode == "lora":
        assert any(".lora_B." in k and v.abs().max() > 0 for k, v in after.items())  # adapters learnt
        base = {k.replace(".base_layer.", "."): v for k, v in after.items() if ".lora_" not in k}
        assert all(torch.equal(before[k], base[k]) for k in before)  # the base never moves
    elif mode == "last1":
        moved = {k for k in before if not torch.equal(before[k], after[k])}
        assert moved and all(k.startswith(("model.encoder.layer.1.", "model.layernorm.")) for k in moved)
    else:
        assert any(not torch.equal(before[k], after[k]) for k in before if ".layer.0." in k)


def test_lora_run_saves_small_adapters_reloads_identically_and_merges(tmp_path):
    pytest.importorskip("peft")
    from safetensors.torch import load_file

    from ssft.backbones.lora import LORA_FILE
    from ssft.run.loaded import _restore_lora

    c = cfg("method.name=twinturbo", "backbone.frozen=false", "backbone.lora=true", "backbone.lora_rank=4",
            "train.backbone_lr=0.01", "train.steps=4")  # fmt: skip
    r = fit(c, tmp_path / "run")
    adapters = load_file(str(r.run_dir / LORA_FILE))
    head = load_file(str(r.run_dir / "model.safetensors"))
    # only the adapters: 2 blocks x (q, v) x (A, B); r * (64 + 64) each pair = 2048 numbers in all
    assert len(adapters) == 8 and all(".lora_A." in k or ".lora_B." in k for k in adapters)
    assert sum(v.numel() for v in adapters.values()) == 2048 == r.results["backbone_trainable_params"]
    assert not any(k.startswith("model.backbone.") for k in head)  # the base is rebuilt, not copied
    n_base = sum(v.numel() for v in fresh_backbone_state().values())
    assert (r.run_dir / LORA_FILE).stat().st_size < 0.05 * n_base * 4

    # The state the loop ended with (checkpoint.pt), rebuilt by hand, predicts what load_run does.
    run = r.load()
    x = [np.random.default_rng(i).integers(0, 256, (8, 8), dtype=np.uint8) for i in range(12)]
    loaded = run.predict(x).probabilities
    backbone = build_backbone(c.backbone)
    _restore_lora(backbone, c, r.run_dir)  # the adapters' shapes; their values come next
    method = build_method(c.method, SSFTModel(backbone, c.model, 10), class_counts=np.ones(10), seed=0)
    method.load_state_dict(load_checkpoint(r.run_dir / "checkpoint.pt")["method"])
    run.method = method.eval()
    np.testing.assert_array_equal(run.predict(x).probabilities, loaded)

    run = r.load()
    assert run.merge_lora() == 4
    np.testing.assert_allclose(run.predict(x).probabilities, loaded, atol=1e-5)
    out = run.export(tmp_path / "export.safetensors")
    plain = build_backbone(c.backbone)
    exported = load_file(str(out))
    plain.load_state_dict(
        {k.removeprefix("model.backbone."): v for k, v in exported.items() if k.startswith("model.backbone.")}
    )
    assert not torch.equal(plain.state_dict()["model.encoder.layer.0.attention.q_proj.weight"],
                           fresh_backbone_state()["model.encoder.layer.0.attention.q_proj.weight"])  # fmt: skip


def test_a_lora_run_without_its_adapter_file_is_one_clear_error(tmp_path):
    pytest.importorskip("peft")
    from ssft.errors import ConfigError

    r = fit(cfg("backbone.frozen=false", "backbone.lora=true"), tmp_path / "run")
    (r.run_dir / "lora.safetensors").unlink()
    with pytest.raises(ConfigError, match="lora.safetensors is missing"):
        r.load()


def method_for(*overrides: str):
    c = cfg(*overrides)
    torch.manual_seed(0)
    backbone = configure_trainable(build_backbone(c.backbone), c.backbone)
    return build_method(c.method, SSFTModel(backbone, c.model, 3), class_counts=np.ones(3), seed=0)


def test_backbone_parameters_move_at_the_backbone_lr():
    # One AdamW step moves every parameter by about its group's lr (Adam's first step is
    # lr * g / |g| per coordinate): the backbone by 1e-5, the head by 1e-2.
    m = method_for("backbone.frozen=false", "method.name=supervised")
    groups = parameter_groups(m, lr=1e-2, backbone_lr=1e-5, weight_decay=0.0)
    opt = torch.optim.AdamW(groups, weight_decay=0.0)
    before = {n: p.detach().clone() for n, p in m.named_parameters()}
    x = torch.rand(6, 3, 32, 32)
    loss = m.model.head(m.model.backbone.encode({"pixel_values": x})).scores.logsumexp(1).mean()
    loss.backward()
    opt.step()
    moves = {n: (p.detach() - before[n]).abs().max().item() for n, p in m.named_parameters()}
    bb = [v for n, v in moves.items() if n.startswith("model.backbone.")]
    hd = [v for n, v in moves.items() if not n.startswith("model.backbone.")]
    # (float32 parameters near 1 round a 1e-5 step by up to ~1%)
    assert max(bb) == pytest.approx(1e-5, rel=0.05) and max(hd) == pytest.approx(1e-2, rel=0.05)


def test_the_loop_gives_the_backbone_its_own_lr(tmp_path):
    # A backbone_lr of 1e-9 must leave the backbone nearly still while the head (lr 1e-2) moves.
    r = fit(cfg("backbone.frozen=false", "train.backbone_lr=1e-9", "train.lr=1e-2"), tmp_path / "run")
    after = r.load().method.model.backbone.state_dict()
    before = fresh_backbone_state()
    assert max((after[k].cpu() - before[k]).abs().max().item() for k in before) < 1e-7


def test_layer_decay_gives_each_depth_its_rate_by_hand():
    # random:dinov2-tiny has L = 2 blocks: embeddings backbone_lr * d^3, block 0 * d^2,
    # block 1 * d, the final layernorm backbone_lr.
    m = method_for("backbone.frozen=false")
    groups = parameter_groups(m, lr=1e-3, backbone_lr=1e-4, weight_decay=0.1, layer_decay=0.5)
    names = {id(p): n for n, p in m.named_parameters()}
    rate = {names[id(p)]: g["lr"] for g in groups for p in g["params"]}
    assert rate["model.backbone.model.embeddings.patch_embeddings.projection.weight"] == pytest.approx(
        1e-4 / 8
    )
    assert rate["model.backbone.model.encoder.layer.0.attention.q_proj.weight"] == pytest.approx(1e-4 / 4)
    assert rate["model.backbone.model.encoder.layer.1.mlp.fc1.weight"] == pytest.approx(1e-4 / 2)
    assert rate["model.backbone.model.layernorm.weight"] == pytest.approx(1e-4)
    assert rate["model.classifier.weight"] == pytest.approx(1e-3)
    flat = [id(p) for g in groups for p in g["params"]]
    assert len(flat) == len(set(flat)) == sum(p.requires_grad for p in m.parameters())


def test_layer_decay_reaches_lora_adapters_by_their_block():
    pytest.importorskip("peft")
    m = method_for("backbone.frozen=false", "backbone.lora=true")
    groups = parameter_groups(m, lr=1e-3, backbone_lr=1e-4, weight_decay=0.0, layer_decay=0.5)
    names = {id(p): n for n, p in m.named_parameters()}
    rate = {names[id(p)]: g["lr"] for g in groups for p in g["params"]}
    assert rate[
        "model.backbone.model.encoder.layer.0.attention.q_proj.lora_A.default.weight"
    ] == pytest.approx(2.5e-5)
    assert rate[
        "model.backbone.model.encoder.layer.1.attention.v_proj.lora_B.default.weight"
    ] == pytest.approx(5e-5)


def test_gradient_checkpointing_recomputes_blocks_and_keeps_the_gradients():
    def grads(checkpointing: bool):
        c = cfg("backbone.frozen=false", f"backbone.gradient_checkpointing={str(checkpointing).lower()}")
        b = configure_trainable(build_backbone(c.backbone), c.backbone)
        calls = []
        # a module inside the first block: the recomputation in backward runs it again
        next(b.blocks()[0].children()).register_forward_hook(lambda *_: calls.append(1))
        x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
        b.encode({"pixel_values": x}).pooled.square().sum().backward()
        return {n: p.grad.clone() for n, p in b.named_parameters() if p.grad is not None}, len(calls)

    plain, n_plain = grads(False)
    ckpt, n_ckpt = grads(True)
    assert n_plain == 1 and n_ckpt == 2  # the block ran again in backward
    assert set(ckpt) == set(plain) and len(plain) > 10
    for k in plain:
        torch.testing.assert_close(ckpt[k], plain[k], atol=1e-6, rtol=1e-5)


def test_gradient_checkpointing_on_a_backbone_without_it_is_one_clear_error():
    from ssft.errors import ConfigError

    c = load_config("demo", ["backbone.name=random:effnet-lite0", "backbone.image_size=64",
                             "backbone.frozen=false", "backbone.gradient_checkpointing=true"])  # fmt: skip
    with pytest.raises(ConfigError, match="gradient_checkpointing"):
        configure_trainable(build_backbone(c.backbone), c.backbone)


def test_lora_after_head_first_trains_the_adapters_alone(tmp_path):
    pytest.importorskip("peft")
    c = cfg("backbone.frozen=false", "backbone.lora=true", "train.head_first_epochs=1", "train.backbone_lr=0.01",
            f"cache.dir={tmp_path / 'c'}")  # fmt: skip
    r = fit(c, tmp_path / "run")
    assert r.results["head_first_steps"] > 0
    state = load_checkpoint(r.run_dir / "checkpoint.pt")["method"]
    before = fresh_backbone_state()
    after = {k.removeprefix("model.backbone.").replace(".base_layer.", "."): v for k, v in state.items()}
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert any(".lora_B." in k and v.abs().max() > 0 for k, v in state.items())
    assert r.load().evaluate()["test_accuracy"] == pytest.approx(r.test_accuracy)


def test_backbone_dropout_sets_every_rate_and_zero_makes_a_training_forward_the_evaluated_one():
    from ssft.config import BackboneConfig

    def backbone(**kw):
        c = BackboneConfig(name="random:bert-tiny", frozen=False, **kw)
        return configure_trainable(build_backbone(c), c).train()

    texts = ["the card did not arrive", "how do I top up", "refund for a double charge"]

    def encode(b):
        torch.manual_seed(0)
        return b.encode(b.prepare(texts)).pooled.detach()

    own = backbone()
    rates = {m.p for m in own.modules() if isinstance(m, torch.nn.Dropout)}
    assert rates and max(rates) > 0  # the network's own dropout
    torch.manual_seed(1)
    assert not torch.allclose(encode(own), own.eval().encode(own.prepare(texts)).pooled.detach())
    assert {m.p for m in backbone(dropout=0.3).modules() if isinstance(m, torch.nn.Dropout)} == {0.3}
    off = backbone(dropout=0.0)
    assert {m.p for m in off.modules() if isinstance(m, torch.nn.Dropout)} == {0.0}
    training = encode(off)  # attention dropout reads its layer's rate too
    torch.testing.assert_close(training, off.eval().encode(off.prepare(texts)).pooled.detach())


def test_backbone_dropout_is_validated():
    from ssft.errors import ConfigError

    with pytest.raises(ConfigError, match="backbone.dropout"):
        cfg("backbone.frozen=false", "backbone.dropout=1.0")
