"""Typed configuration: dataclasses hold every default, presets and ``--set`` only override.

A config is a tree of dataclasses. YAML presets (``src/ssft/configs/*.yaml``) and command-line
overrides (``--set train.epochs=3``) are applied on top of the defaults; an unknown key or a value
of the wrong type is a :class:`~ssft.errors.ConfigError` that lists the valid keys or choices.

The ``method`` section's dataclass depends on ``method.name``: each method registers its own
config class (see :func:`register_method_config`), so ``method.style_dim`` is a key of
``content_style`` and an error for ``twinturbo``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Union

import yaml

from ssft.errors import ConfigError


def choice(default: Any, *choices: Any, help: str = "") -> Any:
    """A dataclass field whose value must be one of ``choices``."""
    return field(default=default, metadata={"choices": choices, "help": help})


def doc(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass
class DataConfig:
    name: str = doc("digits", "dataset name; `ssft datasets` lists them")
    root: str | None = doc(None, "folder holding the dataset files")
    path: str | None = doc(None, "csv dataset: path of the CSV file")
    test_path: str | None = doc(
        None, "csv dataset: a second CSV with the same columns, every row labelled, used as the test part"
    )
    text_column: str | None = doc(None, "csv dataset: column holding the text (text data)")
    image_column: str | None = doc(None, "csv dataset: column holding image paths")
    label_column: str = doc("label", "csv dataset: column holding the label (empty = unlabelled)")
    unlabeled_dir: str | None = doc(None, "imagefolder: extra folder of unlabelled images")
    train_split: str = doc("train", "hf_dataset: the split to train on (labelled and unlabelled)")
    test_split: str | None = doc("test", "hf_dataset: the test split (missing or None: held out)")
    labels_per_class: int = doc(
        4, "k: labelled examples per class in the few-label split; all (stored as -1): every label"
    )
    labeled_items: str | None = doc(
        None, "CSV of the items a user labelled (ssft suggest's file): train on exactly those; k is ignored"
    )
    split_seed: int = doc(0, "seed of the few-label split and the held-out test part")
    holdout: float = doc(0.2, "fraction held out as test when the dataset has one split only")
    holdout_seed: int = doc(0, "seed of the held-out test part (fixed across split seeds)")
    val_per_class: int = doc(0, "labelled validation examples per class (they cost labels)")
    max_unlabeled: int | None = doc(None, "cap on the unlabelled pool (seeded subsample)")
    max_test: int | None = doc(None, "cap on the test part (seeded, class-stratified subsample)")
    stripes_seed: int = doc(0, "seed of the stripe patterns of the striped MNIST variants")
    download: bool = doc(False, "download the dataset into data.root when it is missing")
    skip_bad: bool = doc(False, "drop unreadable files (listed in bad_files.txt) instead of failing")


@dataclass
class BackboneConfig:
    name: str = doc(
        "auto",
        "auto (a real installed backbone for the data: ssft.backbones.auto), `hf:<hub id or dir>`, "
        "`random:<preset>`, `effnet:lite0`, `timm:`, `openclip:`, `features:<D>`",
    )
    frozen: bool = doc(True, "keep the backbone's weights fixed")
    train_blocks: int = doc(0, "with frozen=false: train only the last N blocks (0 = all)")
    lora: bool = doc(
        False, "with frozen=false: train LoRA adapters only, the base weights stay fixed (ssft[peft])"
    )
    lora_rank: int = doc(8, "LoRA rank r of each adapter")
    lora_alpha: float = doc(16.0, "LoRA scale numerator: the update is (alpha / r) B A")
    lora_dropout: float = doc(0.0, "dropout on the adapters' input")
    lora_targets: str = doc(
        "", "comma-separated module names to adapt (empty = the family's default: query/value, 1x1 convs)"
    )
    gradient_checkpointing: bool = doc(
        False, "trainable transformer backbones: recompute activations in backward to save memory"
    )
    revision: str | None = doc(None, "hub revision (commit, tag or branch) to pin")
    trust_remote_code: bool = doc(False, "allow the model's own code to run (RADIO needs it)")
    image_size: int | None = doc(None, "override the input resolution the backbone expects")
    max_length: int = doc(128, "text backbones: tokens per text (longer texts are truncated)")
    pooling: str = choice("default", "default", "cls", "mean", help="how the pooled latent z* is made")


@dataclass
class ModelConfig:
    projector: str = choice(
        "identity", "transformer", "mlp", "identity", help="head over the backbone (identity: BENCHMARKS.md)"
    )
    depth: int = doc(2, "transformer projector: layers")
    width: int = doc(256, "projector width d")
    heads: int = doc(4, "transformer projector: attention heads")
    mlp_ratio: float = doc(2.0, "transformer projector: feed-forward width / d")
    dropout: float = doc(0.1, "projector dropout")
    aggregation: str = choice("cls", "cls", "mean", "cls_mean", "attention", help="token aggregation")
    classifier: str = choice("cosine", "cosine", "linear", help="class scores from z")
    sigmoid_rescaling: bool = doc(True, "cosine classifier: learnable temperature t and bias b")
    init_temperature: float = doc(10.0, "cosine classifier: initial t")
    init_bias: float = doc(-10.0, "cosine classifier: initial b")
    max_temperature: float = doc(100.0, "cosine classifier: upper bound of the learnable t")
    center: bool | None = doc(
        None,
        "subtract the training pool's mean pooled feature before the projector (and, for the "
        "transformer projector, the pool's mean token from every token; measured once per run, saved "
        "with the model). null: the method's default, on for fixmatch, freematch and softmatch, off "
        "for the others",
    )


@dataclass
class MethodConfig:
    """Keys shared by every method; each method subclasses it with its own keys."""

    name: str = doc("fixmatch", "training method; `ssft methods` lists them and says which to use")


@dataclass
class TrainConfig:
    epochs: int = doc(10, "passes of the unlabelled stream over the training pool")
    steps: int | None = doc(None, "total optimiser steps; overrides epochs when set")
    batch_size: int = doc(64, "labelled batch size")
    unlabeled_ratio: int = doc(1, "unlabelled batch size = unlabeled_ratio * batch_size")
    labeled_per_class: int = doc(
        0, "labelled batches of batch_size / N classes with N items each (0 = a uniform draw)"
    )
    lr: float = doc(1e-3, "learning rate of the head")
    backbone_lr: float = doc(1e-5, "learning rate of the trainable backbone parameters (LoRA: its adapters)")
    layer_decay: float = doc(
        1.0, "layer-wise lr decay: block i of L trains at backbone_lr * layer_decay^(L - i) (1 = off)"
    )
    head_first_epochs: int = doc(
        0,
        "trainable backbone: first train the head alone for this many epochs on cached frozen "
        "features (LP-FT), then fine-tune (0 = off)",
    )
    weight_decay: float = doc(0.05, "AdamW weight decay")
    warmup: float = doc(0.05, "fraction of the steps with linear warm-up")
    grad_clip: float = doc(1.0, "clip the gradient norm to this value (0 = off)")
    ema_weights: float = doc(
        0.0, "evaluate and save an EMA of the trained weights with this momentum (0 = off; papers: 0.999)"
    )
    precision: str = choice("auto", "auto", "fp32", "bf16", "fp16", help="autocast (auto = bf16 on GPU)")
    device: str = doc("auto", "auto, cpu, cuda, cuda:N or mps")
    log_every: int = doc(10, "steps between lines of metrics.jsonl")
    eval_every: int = doc(0, "epochs between validation evaluations (0 = at the end only)")
    checkpoint_every: int = doc(0, "steps between checkpoints (0 = end only)")
    num_workers: int = doc(0, "data-loading workers for image decoding and tokenising")
    deterministic: bool = doc(
        True, "deterministic algorithms where torch has them, so a resumed GPU run repeats the original"
    )
    compile: bool = doc(False, "torch.compile the backbone (extraction and trainable runs)")
    progress: bool = doc(True, "show progress bars")
    logger: str = doc(
        "none", "experiment trackers: none, tensorboard, mlflow, wandb, or several joined by commas"
    )
    threads: int = doc(
        0, "torch CPU threads in this process (0 = torch's default, every core; 1 when runs share a machine)"
    )


@dataclass
class CacheConfig:
    enabled: bool = doc(True, "cache the frozen backbone's features (ignored when trainable)")
    dir: str | None = doc(None, "cache folder (default: $SSFT_CACHE or ~/.cache/ssft)")
    store: str = choice("all", "all", "reduced", "pooled", help="what is stored per sample")
    grid: int = doc(4, "store=reduced: patch tokens average-pooled to grid x grid")
    batch_size: int = doc(64, "extraction batch size")
    device_resident: str = choice("auto", "auto", "yes", "no", help="keep the cache on the GPU")
    views: int = doc(
        0, "weak augmented views per training item to extract too (crop/flip; texts: word dropout)"
    )
    strong_views: int = doc(
        2, "strong (RandAugment-style) views per training item, extracted only for methods using them"
    )
    view_seed: int = doc(0, "seed of the augmented views (fixed, so views are cached once)")
    view_flip: bool = doc(
        True, "augmented views may be flipped horizontally (off for digits, text in images)"
    )


@dataclass
class Config:
    seed: int = doc(0, "seed of model init, data order and augmentations")
    data: DataConfig = field(default_factory=DataConfig)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)


_METHOD_CONFIGS: dict[str, type[MethodConfig]] = {}

#: Top-level keys that describe a config file rather than configure a run.
META_KEYS = ("description", "provenance", "grid", "launcher")


def register_method_config(name: str, cls: type[MethodConfig] = MethodConfig) -> None:
    """Declare the config dataclass of method ``name``."""
    _METHOD_CONFIGS[name] = cls


def method_config_class(name: str) -> type[MethodConfig]:
    import ssft.methods  # noqa: F401  (registers the methods)

    try:
        return _METHOD_CONFIGS[name]
    except KeyError:
        known = ", ".join(sorted(_METHOD_CONFIGS))
        raise ConfigError(f"unknown method.name {name!r}; known: {known}") from None


# --------------------------------------------------------------------------------------------
# Building configs from nested dicts, with type checking.


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _coerce(value: Any, tp: Any, key: str, f: dataclasses.Field | None) -> Any:
    """Check ``value`` against the annotation ``tp``; convert int -> float where lossless."""
    choices = f.metadata.get("choices") if f is not None else None
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key, f)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{key}: bad value {value!r}")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    if tp is int:
        if key == "data.labels_per_class" and value == "all":
            return -1  # every label the data has (ssft.data.split_notes.ALL_LABELS)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):
            # YAML 1.1 reads "1e-3" as a string; where a number is expected, a number was meant.
            with contextlib.suppress(ValueError):
                value = float(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if choices and not isinstance(value, str):
            # YAML reads `no`, `off`, `yes`, `1` as booleans or numbers; a choice written as text
            # must still be accepted as written (cache.device_resident=no).
            value = next(
                (
                    c
                    for c in choices
                    if _as_yaml_scalar(c) == value and type(_as_yaml_scalar(c)) is type(value)
                ),
                value,
            )
        if choices and (not isinstance(value, str) or value not in choices):
            raise ConfigError(f"{key} must be one of {', '.join(choices)}; got {value!r}")
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported config type {tp!r}")  # pragma: no cover


def _as_yaml_scalar(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _build(cls: type, data: dict[str, Any], prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = prefix.rstrip(".") or "config"
        raise ConfigError(f"unknown key {prefix}{unknown[0]} in {where}; valid keys: {', '.join(fields)}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        tp = hints[name]
        if _is_dataclass_type(tp):
            kwargs[name] = _build(tp, value or {}, f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(value, tp, f"{prefix}{name}", fields[name])
    return cls(**kwargs)


def from_dict(data: dict[str, Any]) -> Config:
    """Build a :class:`Config` from a nested mapping, checking every key and type."""
    data = {k: v for k, v in (data or {}).items() if k not in META_KEYS}
    method = data.pop("method", None) or {}
    if not isinstance(method, dict):
        raise ConfigError(f"method must be a mapping of method keys, got {method!r}")
    method = dict(method)
    name = method.get("name", MethodConfig.name)
    if not isinstance(name, str):
        raise ConfigError(f"method.name must be a string, got {name!r}")
    cfg = _build(Config, data, "")
    cfg.method = _build(method_config_class(name), method, "method.")
    validate(cfg)
    return cfg


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


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
        (cfg.train.steps is None or cfg.train.steps >= 1, "train.steps must be >= 1"),
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
        (cfg.model.width % cfg.model.heads == 0, "model.width must be divisible by model.heads"),
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
    from ssft.train.trackers import parse_logger

    parse_logger(cfg.train.logger)
    check = getattr(cfg.method, "validate", None)
    if callable(check):
        check()


# --------------------------------------------------------------------------------------------
# Presets, files and overrides.


def preset_names() -> list[str]:
    files = resources.files("ssft.configs").iterdir()
    return sorted(p.name[:-5] for p in files if p.name.endswith(".yaml"))


def _read_yaml(text: str, where: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{where} is not valid YAML: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must hold a mapping of config keys")
    return data


def load_source(source: str | Path) -> dict[str, Any]:
    """Read a preset name or a YAML file into a nested dict (``base:`` presets are merged)."""
    path = Path(source)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        data = _read_yaml(path.read_text(), str(path))
    else:
        res = resources.files("ssft.configs").joinpath(f"{source}.yaml")
        if not res.is_file():
            raise ConfigError(
                f"unknown preset {source!r} (and no such file); presets: {', '.join(preset_names())}"
            )
        data = _read_yaml(res.read_text(), f"preset {source}")
    base = data.pop("base", None)
    if base is not None:
        data = merge(load_source(base), data)
    return data


def preset_grid(source: str | Path | None) -> dict[str, list[str]]:
    """The ``grid:`` of a preset (key -> values), the default grid of ``ssft sweep``."""
    if source is None:
        return {}
    grid = load_source(source).get("grid") or {}
    if not isinstance(grid, dict):
        raise ConfigError(f"{source}: grid must map keys to lists of values")
    return {
        str(k): [
            str(v).lower() if isinstance(v, bool) else str(v) for v in (vs if isinstance(vs, list) else [vs])
        ]
        for k, vs in grid.items()
    }


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def parse_override(text: str) -> dict[str, Any]:
    """``"train.epochs=3"`` -> ``{"train": {"epochs": 3}}``; values are parsed as YAML scalars."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key.sub=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {text!r} has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    if isinstance(value, dict | list):
        raise ConfigError(f"override {text!r}: value must be a scalar")
    out: dict[str, Any] = {}
    node = out
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def load_config(source: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Defaults, then the preset or YAML file ``source``, then each ``key=value`` override."""
    data: dict[str, Any] = load_source(source) if source else {}
    parsed = [parse_override(text) for text in overrides or []]
    new_method = next((p["method"]["name"] for p in reversed(parsed) if "name" in p.get("method", {})), None)
    base_method = (data.get("method") or {}).get("name", MethodConfig.name)
    if new_method is not None and new_method != base_method and isinstance(data.get("method"), dict):
        # An override switched the method (a sweep over method.name): the file's keys that belong
        # to the old method do not apply to the new one. Keys given on the command line still must.
        known = {f.name for f in dataclasses.fields(method_config_class(str(new_method)))}
        data = {**data, "method": {k: v for k, v in data["method"].items() if k in known}}
    for over in parsed:
        data = merge(data, over)
    return from_dict(data)


def dump_yaml(cfg: Config, extra: dict[str, Any] | None = None) -> str:
    data = to_dict(cfg)
    if extra:
        data = {**extra, **data}
    return yaml.safe_dump(data, sort_keys=False)


def describe(cls: type = Config, prefix: str = "") -> list[tuple[str, str, str]]:
    """(key, default, help) for every key, for the README's reference and ``ssft config``."""
    rows: list[tuple[str, str, str]] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if _is_dataclass_type(tp):
            rows += describe(tp, f"{prefix}{f.name}.")
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        helptext = f.metadata.get("help", "")
        if f.metadata.get("choices"):
            helptext += f" ({' | '.join(f.metadata['choices'])})"
        rows.append((f"{prefix}{f.name}", repr(default), helptext))
    return rows
