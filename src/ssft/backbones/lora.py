"""LoRA adapters inside a backbone, through the ``peft`` library (``pip install 'ssft[peft]'``).

LoRA (Hu et al., 2021, "LoRA: Low-Rank Adaptation of Large Language Models") keeps a weight
``W`` (d_out x d_in) fixed and learns a low-rank update: the layer computes
``W x + (alpha / r) B A x`` with ``A`` (r x d_in), ``B`` (d_out x r), ``B`` starting at zero, so
an adapted backbone starts exactly as the pretrained one. A 1x1 convolution is a linear map per
position and is adapted the same way (peft's ``Conv2d`` LoRA layer: ``A`` a c_in -> r and ``B``
an r -> c_out 1x1 convolution).

The adapters are injected in place (``peft.inject_adapter_in_model``): the backbone keeps its
class and its ``encode``; only the adapted layers are wrapped. Their weights save alone
(:func:`lora_state_dict`, a small file next to the run's ``model.safetensors``), load back onto
a freshly built base (:func:`load_lora_state`) and fold into the base weights for export
(:func:`merge_lora`), after which the backbone is a plain one again.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from ssft.errors import ConfigError

#: the adapter weights of a run, next to its ``model.safetensors``
LORA_FILE = "lora.safetensors"
INSTALL = "pip install 'ssft[peft]'"

#: Default targets, by the names the families give their layers; the first pair found is used.
#: Attention query and value projections (as in the LoRA paper) for transformers: ``q_proj`` /
#: ``v_proj`` (DINOv2, CLIP, SigLIP, ViT in transformers), ``query`` / ``value`` (BERT, MiniLM),
#: ``qkv`` (timm and RADIO, one fused projection); EfficientNet: its 1x1 expansion and projection
#: convolutions (the depthwise convolutions have one input channel per group and are left alone).
DEFAULT_TARGETS: tuple[tuple[str, ...], ...] = (
    ("q_proj", "v_proj"),
    ("query", "value"),
    ("qkv",),
    ("_expand_conv", "_project_conv"),
)


def require_peft() -> Any:
    try:
        import peft
    except ImportError:
        raise ConfigError(f"backbone.lora=true needs the peft library: {INSTALL}") from None
    return peft


def _leaf_names(module: nn.Module) -> set[str]:
    return {
        name.rsplit(".", 1)[-1] for name, m in module.named_modules() if isinstance(m, nn.Linear | nn.Conv2d)
    }


def lora_targets(backbone: nn.Module, targets: str = "") -> list[str]:
    """The module names to adapt: ``targets`` (comma-separated) or the family's default."""
    leaves = _leaf_names(backbone)
    if targets.strip():
        names = [t.strip() for t in targets.split(",") if t.strip()]
        unknown = [t for t in names if t not in leaves]
        if unknown:
            raise ConfigError(
                f"backbone.lora_targets: no linear or convolution layer of {getattr(backbone, 'name', '?')} "
                f"is named {unknown[0]!r}; its layer names are {', '.join(sorted(leaves))}"
            )
        return names
    for group in DEFAULT_TARGETS:
        if all(t in leaves for t in group):
            return list(group)
    raise ConfigError(
        f"no default LoRA targets for {getattr(backbone, 'name', '?')}: name the layers to adapt with "
        f"backbone.lora_targets=<name,name>; its layer names are {', '.join(sorted(leaves))}"
    )


def apply_lora(
    backbone: nn.Module, *, rank: int, alpha: float, dropout: float = 0.0, targets: str = ""
) -> list[str]:
    """Freeze ``backbone`` and inject LoRA adapters (trainable) into the target layers, in place.

    Returns the target names used. Adapter ``B`` starts at zero, so outputs are unchanged until
    the first update.
    """
    peft = require_peft()
    prepare = getattr(backbone, "prepare_lora", None)
    if callable(prepare):
        prepare()  # layers peft cannot wrap as they are (EfficientNet's padded convolutions)
    names = lora_targets(backbone, targets)
    for p in backbone.parameters():
        p.requires_grad_(False)
    config = peft.LoraConfig(
        r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=names, bias="none"
    )
    peft.inject_adapter_in_model(config, backbone)
    for name, p in backbone.named_parameters():
        p.requires_grad_(is_lora_key(name))
    backbone.lora_targets = names  # type: ignore[assignment]
    return names


def is_lora_key(name: str) -> bool:
    return ".lora_A." in name or ".lora_B." in name


def has_lora(backbone: nn.Module) -> bool:
    """Whether LoRA adapters are injected (and not merged) in ``backbone``."""
    return any(is_lora_key(name) for name, _ in backbone.named_parameters())


def lora_state_dict(backbone: nn.Module) -> dict[str, Tensor]:
    """The adapter weights alone (``...lora_A.default.weight`` etc.), detached, on the CPU."""
    return {k: v.detach().cpu().contiguous() for k, v in backbone.state_dict().items() if is_lora_key(k)}


def load_lora_state(backbone: nn.Module, state: dict[str, Tensor]) -> None:
    """Load adapter weights saved by :func:`lora_state_dict` into a backbone with the same adapters."""
    own = lora_state_dict(backbone)
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise ConfigError(
            f"the LoRA weights do not match the backbone's adapters (rank, targets): "
            f"missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    bad = [k for k in own if own[k].shape != state[k].shape]
    if bad:
        raise ConfigError(
            f"the LoRA weight {bad[0]} has shape {tuple(state[bad[0]].shape)}, the backbone's adapter "
            f"{tuple(own[bad[0]].shape)}: backbone.lora_rank differs from the run that saved it"
        )
    backbone.load_state_dict(state, strict=False)


def merge_lora(backbone: nn.Module) -> int:
    """Fold every adapter into its base weight (``W += (alpha / r) B A``) and remove the wrappers,
    in place: the backbone is then a plain one with the original parameter names. Returns the
    number of layers merged."""
    require_peft()
    from peft.tuners.tuners_utils import BaseTunerLayer

    merged = 0
    for name, module in list(backbone.named_modules()):
        if isinstance(module, BaseTunerLayer):
            module.merge()
            parent, _, child = name.rpartition(".")
            setattr(backbone.get_submodule(parent), child, module.get_base_layer())
            merged += 1
    return merged
