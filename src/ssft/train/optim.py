"""The main optimiser's parameter groups, and the constraints applied after each step.

Weight decay applies to weight matrices only. Kept out of it (as in nanoGPT, timm and CLIP):
every parameter with at most one dimension (biases, LayerNorm scales, the cosine classifier's
``log t`` and ``b``) and the parameters a module names in its ``no_weight_decay`` attribute (the
cosine classifier's class embeddings, learned [CLS] tokens and queries) or method (timm and
open_clip models return their position embeddings and [CLS] tokens from ``no_weight_decay()``). Decaying ``log t`` would
pull the temperature towards 1 and ``b`` towards 0 whatever the data says; decaying the class
embeddings only shrinks vectors that the cosine normalises away.

A trainable backbone trains at ``backbone_lr`` (lower than the head's: its weights are already
good). With layer-wise decay ``layer_decay`` < 1 (as in BEiT, Bao et al. 2022, and ELECTRA), a
backbone with L blocks gives block i (0 = first) ``backbone_lr * layer_decay^(L - i)``, its final
norm ``backbone_lr``, and every other backbone parameter (patch and position embeddings, a CNN
stem) ``backbone_lr * layer_decay^(L + 1)``: the earlier the layer, the less it moves.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ssft.backbones.base import Backbone
from ssft.errors import BackboneError, ConfigError
from ssft.methods import Method


def no_decay_ids(module: nn.Module) -> set[int]:
    """Ids of the parameters of ``module`` that must not be weight-decayed."""
    out = {id(p) for p in module.parameters() if p.ndim <= 1}
    for sub in module.modules():
        names = getattr(sub, "no_weight_decay", ())
        if callable(names):  # timm and open_clip define a method that returns the names
            names = names()
        if not names:
            continue
        params = dict(sub.named_parameters())
        for name in names:
            # a name may be dotted ("blocks.0.pos") or a prefix of several ("pos_embed" in timm)
            out.update(id(p) for key, p in params.items() if key == name or key.startswith(f"{name}."))
    return out


def layer_depths(backbone: Backbone) -> tuple[dict[int, int], int]:
    """(id of each backbone parameter -> its depth, L): 0 outside the blocks (embeddings, stem),
    i + 1 in block i, L + 1 in the final norm."""
    try:
        blocks = list(backbone.blocks())
    except (NotImplementedError, BackboneError):
        raise ConfigError(
            f"train.layer_decay needs the backbone's blocks, and {backbone.name} does not expose them; "
            "set train.layer_decay=1"
        ) from None
    n = len(blocks)
    depth = {id(p): 0 for p in backbone.parameters()}
    for i, block in enumerate(blocks):
        for p in block.parameters():
            depth[id(p)] = i + 1
    for p in backbone.final_norm_parameters():
        depth[id(p)] = n + 1
    return depth, n


def parameter_groups(
    method: Method, *, lr: float, backbone_lr: float, weight_decay: float, layer_decay: float = 1.0
) -> list[dict[str, Any]]:
    """AdamW groups ``head``, ``head_no_decay``, ``backbone``, ``backbone_no_decay`` (empty groups
    are left out): the head's learning rate for the method's parameters, ``backbone_lr`` for a
    trainable backbone, and weight decay on weight matrices only. With ``layer_decay`` < 1 the
    backbone groups are split by depth (``backbone_d<depth>``, see the module docstring)."""
    skip = no_decay_ids(method)
    groups = []
    sets: list[tuple[str, list[nn.Parameter], float]] = [("head", method.optimizer_parameters(), lr)]
    backbone_params = method.model.backbone_parameters()
    if layer_decay == 1.0 or not backbone_params:
        sets.append(("backbone", backbone_params, backbone_lr))
    else:
        depth, n = layer_depths(method.model.backbone)
        for d in sorted({depth[id(p)] for p in backbone_params}):
            params = [p for p in backbone_params if depth[id(p)] == d]
            sets.append((f"backbone_d{d}", params, backbone_lr * layer_decay ** (n + 1 - d)))
    for name, params, rate in sets:
        decay = [p for p in params if id(p) not in skip]
        rest = [p for p in params if id(p) in skip]
        if decay:
            groups.append({"params": decay, "lr": rate, "weight_decay": weight_decay, "name": name})
        if rest:
            groups.append({"params": rest, "lr": rate, "weight_decay": 0.0, "name": f"{name}_no_decay"})
    return groups


def constrain_(method: Method) -> None:
    """Apply every module's ``constrain_()`` (e.g. the cosine classifier's bound on ``t``); the
    training loop calls it after each optimiser step."""
    for sub in method.modules():
        hook = getattr(sub, "constrain_", None)
        if callable(hook) and sub is not method:
            hook()
