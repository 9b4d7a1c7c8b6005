"""The main optimiser's parameter groups, and the constraints applied after each step.

Weight decay applies to weight matrices only. Kept out of it (as in nanoGPT, timm and CLIP):
every parameter with at most one dimension (biases, LayerNorm scales, the cosine classifier's
``log t`` and ``b``) and the parameters a module names in its ``no_weight_decay`` attribute (the
cosine classifier's class embeddings, learned [CLS] tokens and queries). Decaying ``log t`` would
pull the temperature towards 1 and ``b`` towards 0 whatever the data says; decaying the class
embeddings only shrinks vectors that the cosine normalises away.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ssft.methods import Method


def no_decay_ids(module: nn.Module) -> set[int]:
    """Ids of the parameters of ``module`` that must not be weight-decayed."""
    out = {id(p) for p in module.parameters() if p.ndim <= 1}
    for sub in module.modules():
        for name in getattr(sub, "no_weight_decay", ()):
            p = getattr(sub, name, None)
            if isinstance(p, nn.Parameter):
                out.add(id(p))
    return out


def parameter_groups(
    method: Method, *, lr: float, backbone_lr: float, weight_decay: float
) -> list[dict[str, Any]]:
    """AdamW groups ``head``, ``head_no_decay``, ``backbone``, ``backbone_no_decay`` (empty groups
    are left out): the head's learning rate for the method's parameters, ``backbone_lr`` for a
    trainable backbone, and weight decay on weight matrices only."""
    skip = no_decay_ids(method)
    groups = []
    for name, params, rate in (
        ("head", method.optimizer_parameters(), lr),
        ("backbone", method.model.backbone_parameters(), backbone_lr),
    ):
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
