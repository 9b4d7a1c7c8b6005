"""The config's dataclasses: every key of a run, with its default and a one-line meaning.

:func:`choice` and :func:`doc` attach the help text (and the allowed values) that ``ssft config
--reference`` and the README's reference print. The ``method`` section holds only the shared
:class:`MethodConfig` here; each method subclasses it with its own keys (see
:mod:`ssft.config.method_registry`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
    dropout: float | None = doc(
        None,
        "trainable backbones: the rate of every dropout layer while training (null = the network's "
        "own; 0 = off, so the features the head learns from are the ones it is evaluated on)",
    )
    bn_stats: str = choice(
        "update",
        "update",
        "frozen",
        help="trainable backbones: batch-norm running statistics update as they train, or stay the "
        "pretrained ones (frozen: the norms' scale and shift still train)",
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
    max_steps: int | None = doc(
        10_000,
        "cap on the steps that come from epochs, so a large pool costs a fixed budget (cost per step "
        "does not depend on the pool); null = epochs alone decide",
    )
    labeled_epochs: float | None = doc(
        None,
        "passes over the labelled items: steps = ceil(labeled_epochs * labelled items / batch_size), "
        "so the work grows with the labels rather than the pool; overrides epochs, `steps` overrides it",
    )
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


#: Top-level keys that describe a config file rather than configure a run.
META_KEYS = ("description", "provenance", "grid", "launcher")
