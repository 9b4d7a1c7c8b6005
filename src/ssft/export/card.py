"""The model card (``README.md``) of an exported model folder: what was trained on what, how well
it did with its seed spread, how to run it, and what it must not be used for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def sibling_results(run: Any) -> dict[str, list[float]]:
    """Test accuracy per method over the finished runs beside ``run`` (a sweep's folder) that share
    its dataset, backbone and labels per class: one value per seed."""
    mine = run.results
    key = (mine.get("dataset"), mine.get("backbone"), mine.get("labels_per_class"))
    out: dict[str, list[float]] = {}
    for path in sorted(Path(run.dir).parent.glob("*/results.json")):
        try:
            res = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if (res.get("dataset"), res.get("backbone"), res.get("labels_per_class")) == key:
            out.setdefault(str(res.get("method")), []).append(float(res["test_accuracy"]))
    return out


def _results_table(run: Any) -> str:
    rows = ["| method | seeds | test accuracy (%) |", "|---|---|---|"]
    for method, accs in sorted(sibling_results(run).items()):
        a = 100 * np.asarray(accs)
        spread = (
            f"{a.mean():.1f} ± {a.std(ddof=1):.1f}" if a.size > 1 else f"{a[0]:.1f} (one seed: no spread)"
        )
        rows.append(
            f"| {method}{' (this model)' if method == run.cfg.method.name else ''} | {a.size} | {spread} |"
        )
    return "\n".join(rows)


def _usage(modality: str) -> str:
    if modality == "image":
        return (
            "```python\nimport json, numpy as np, onnxruntime as ort\nfrom PIL import Image\n"
            'pre = json.load(open("preprocessing.json"))\n'
            'img = Image.open("x.png").convert("RGB").resize((pre["size"], pre["size"]), Image.BILINEAR)\n'
            'p = ort.InferenceSession("model.onnx").run(None, {"pixels": np.asarray(img)[None]})[0]\n```'
        )
    return (
        "```python\nimport numpy as np, onnxruntime as ort\nfrom tokenizers import Tokenizer\n"
        'enc = Tokenizer.from_file("tokenizer.json").encode_batch(["some text"])\n'
        'feeds = {"input_ids": np.array([e.ids for e in enc]), "attention_mask": np.array([e.attention_mask for e in enc])}\n'
        'p = ort.InferenceSession("model.onnx").run(None, feeds)[0]\n```'
    )


def model_card(run: Any, check: Any) -> str:
    """The card's Markdown, with Hugging Face's YAML front matter."""
    res, cfg = run.results, run.cfg
    modality = run.method.model.backbone.modality
    task = "image-classification" if modality == "image" else "text-classification"
    front = f"---\nlibrary_name: onnx\npipeline_tag: {task}\ntags: [ssft, semi-supervised, onnx]\n---\n"
    return f"""{front}
# {res.get("dataset")} classifier: {cfg.backbone.name} + {cfg.method.name} (ssft)

A {len(run.classes)}-class {modality} classifier trained by ssft {res.get("ssft_version")} (git
{str(res.get("git_commit"))[:10]}) with semi-supervised learning from few labels.
Classes: {", ".join(run.classes)}.

## Data and labels
- Dataset: `{res.get("dataset")}` (`config.yaml`, section `data`).
- Labels used: {res.get("labels_used")} ({res.get("labels_per_class")} per class, validation labels
  {res.get("num_validation", 0)}); unlabelled items: {res.get("num_unlabeled")}; test items: {res.get("num_test")}.
- Split: class-balanced, split seed {res.get("split_seed")}, training seed {res.get("seed")}; the indices are in `split.json`.
- Backbone: `{cfg.backbone.name}`, {res.get("backbone_mode", "frozen" if cfg.backbone.frozen else "trainable")}.

## Results
Test accuracy on the held-out test part (never used for selection); the spread is the standard
deviation over the seeds found beside this run with the same data, backbone and labels per class.

{_results_table(run)}

## Files and use
`model.onnx` takes {" and ".join(f"`{k}`" for k in ("pixels",) if modality == "image") or "`input_ids` and `attention_mask`"}
(see `preprocessing.json`) and returns `probabilities` (N, {len(run.classes)}); the class names are in
`config.json` (`id2label`). `model.safetensors` and `config.yaml` reload it in ssft.

{_usage(modality)}

Checked at export: onnxruntime against ssft on {check.items} test items, largest probability
difference {check.max_abs_diff:.2g} (tolerance {check.tolerance:g}), same class on {check.same_class}/{check.items}.

## Intended use and limits
- Intended for data like the training data: the same kind of {modality}s and the same {len(run.classes)} classes.
  Every input gets one of these classes; there is no "none of these" answer.
- Trained from {res.get("labels_used")} labels: the accuracy above is measured on {res.get("num_test")} test
  items and carries their sampling error; measure it on your own data before relying on it.
- The backbone's biases and its training data's carry over; not for decisions about people.
"""
