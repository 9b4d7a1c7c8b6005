"""``hf:`` text encoders: the wrapper around an ``AutoModel`` and its tokenizer, and the picklable
collate that tokenizes a batch. Loading one (and reading a sentence-transformers checkpoint's own
pooling and normalisation) is in :mod:`ssft.backbones.hf`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ssft.backbones.base import Features, TextPreprocess
from ssft.backbones.hf_base import HFBackboneBase, check_pooling, find_blocks, get_path, masked_mean

# Encoders whose task pooler (dense + tanh) we drop: it is unused and would get no gradient.
NO_POOLER_TYPES = {"bert", "roberta", "xlm-roberta", "camembert", "mpnet"}


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
