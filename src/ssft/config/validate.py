"""Range checks of a built config that types alone cannot express."""

from __future__ import annotations

from ssft.config.logger_spec import parse_logger
from ssft.config.schema import Config
from ssft.errors import ConfigError


def validate(cfg: Config) -> None:
    """Range checks that types alone cannot express."""
    checks = [
        (
            cfg.data.labels_per_class >= 1 or cfg.data.labels_per_class == -1,
            "data.labels_per_class must be >= 1 or all",
        ),
        (0.0 < cfg.data.holdout < 1.0, "data.holdout must be in (0, 1)"),
        (cfg.data.val_per_class >= 0, "data.val_per_class must be >= 0"),
        (cfg.train.epochs >= 1, "train.epochs must be >= 1"),
        (cfg.train.max_steps is None or cfg.train.max_steps >= 1, "train.max_steps must be >= 1 (or null)"),
        (cfg.train.steps is None or cfg.train.steps >= 1, "train.steps must be >= 1"),
        (
            cfg.train.labeled_epochs is None or cfg.train.labeled_epochs > 0,
            "train.labeled_epochs must be > 0 (or null: train.epochs decide)",
        ),
        (cfg.train.batch_size >= 1, "train.batch_size must be >= 1"),
        (cfg.train.labeled_per_class >= 0, "train.labeled_per_class must be >= 0 (0 = a uniform draw)"),
        (cfg.train.unlabeled_ratio >= 1, "train.unlabeled_ratio must be >= 1"),
        (cfg.train.lr > 0, "train.lr must be > 0"),
        (0.0 <= cfg.train.warmup < 1.0, "train.warmup must be in [0, 1)"),
        (cfg.train.grad_clip >= 0, "train.grad_clip must be >= 0"),
        (0.0 <= cfg.train.ema_weights < 1.0, "train.ema_weights must be in [0, 1) (0 = off, papers: 0.999)"),
        (cfg.train.log_every >= 1, "train.log_every must be >= 1"),
        (cfg.train.threads >= 0, "train.threads must be >= 0 (0 = torch's default)"),
        (cfg.train.head_first_epochs >= 0, "train.head_first_epochs must be >= 0 (0 = off)"),
        (cfg.model.heads >= 1, "model.heads must be >= 1"),
        (
            cfg.model.heads >= 1 and cfg.model.width % cfg.model.heads == 0,
            "model.width must be divisible by model.heads",
        ),
        (cfg.model.depth >= 0, "model.depth must be >= 0"),
        (0.0 <= cfg.model.dropout < 1.0, "model.dropout must be in [0, 1)"),
        (
            0.0 < cfg.model.init_temperature <= cfg.model.max_temperature,
            "model.init_temperature must be > 0 and <= model.max_temperature",
        ),
        (cfg.cache.grid >= 1, "cache.grid must be >= 1"),
        (cfg.cache.batch_size >= 1, "cache.batch_size must be >= 1"),
        (cfg.cache.views >= 0, "cache.views must be >= 0"),
        (cfg.cache.strong_views >= 0, "cache.strong_views must be >= 0"),
        (cfg.backbone.max_length >= 2, "backbone.max_length must be >= 2"),
        (cfg.backbone.train_blocks >= 0, "backbone.train_blocks must be >= 0 (0 = every block)"),
        (cfg.backbone.lora_rank >= 1, "backbone.lora_rank must be >= 1"),
        (cfg.backbone.lora_alpha > 0, "backbone.lora_alpha must be > 0"),
        (0.0 <= cfg.backbone.lora_dropout < 1.0, "backbone.lora_dropout must be in [0, 1)"),
        (
            cfg.backbone.dropout is None or 0.0 <= cfg.backbone.dropout < 1.0,
            "backbone.dropout must be in [0, 1), or null for the network's own rates",
        ),
        (
            not (cfg.backbone.lora and cfg.backbone.frozen),
            "backbone.lora=true trains adapters inside the backbone: set backbone.frozen=false too",
        ),
        (
            not (cfg.backbone.lora and cfg.backbone.train_blocks),
            "backbone.lora=true adapts every block; it cannot be combined with backbone.train_blocks "
            "(set one of them)",
        ),
        (cfg.train.backbone_lr > 0, "train.backbone_lr must be > 0"),
        (0.0 < cfg.train.layer_decay <= 1.0, "train.layer_decay must be in (0, 1] (1 = off)"),
    ]
    for ok, msg in checks:
        if not ok:
            raise ConfigError(msg)
    parse_logger(cfg.train.logger)
    check = getattr(cfg.method, "validate", None)
    if callable(check):
        check()
