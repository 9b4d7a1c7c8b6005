"""``hf:`` text encoders: any ``AutoModel`` with its ``AutoTokenizer`` (BERT, MiniLM,
sentence-transformers checkpoints, whose own pooling and normalisation settings are followed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ssft.backbones.base import Backbone, Features, TextPreprocess
from ssft.backbones.hf_base import HFBackboneBase, check_pooling, find_blocks, get_path, masked_mean
from ssft.backbones.hf_loading import from_pretrained_quietly, load_error, read_json
from ssft.config import BackboneConfig
from ssft.errors import BackboneError

# Encoders whose task pooler (dense + tanh) we drop: it is unused and would get no gradient.
_NO_POOLER_TYPES = {"bert", "roberta", "xlm-roberta", "camembert", "mpnet"}


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


class HFTextBackbone(HFBackboneBase):
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
            mod = get_path(self.model, attr)
            if isinstance(mod, nn.Module):
                return list(mod.parameters())
        return []


def load_text(
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
    model = from_pretrained_quietly(AutoModel, src, model_id, **kw)
    if not hasattr(model.config, "hidden_size") or not hasattr(model, "get_input_embeddings"):
        raise BackboneError(
            f"{model_id} (model_type {config.model_type!r}) is not a supported backbone: expected a "
            "DINOv2, CLIP, SigLIP, ViT or RADIO vision model, or a text encoder"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(src, revision=rev, trust_remote_code=cfg.trust_remote_code)
    except Exception as e:
        raise load_error(model_id, e) from None

    # A sentence-transformers checkpoint says how it pools, and whether it normalises.
    default_pooling, normalize = "mean", False
    modules = read_json(src, "modules.json", rev)
    if isinstance(modules, list):
        normalize = any(str(m.get("type", "")).endswith("Normalize") for m in modules)
        pool_dir = next((m.get("path") for m in modules if str(m.get("type", "")).endswith("Pooling")), None)
        pool_cfg = read_json(src, f"{pool_dir}/config.json", rev) if pool_dir else None
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
