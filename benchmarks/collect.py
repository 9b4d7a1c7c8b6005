"""Assemble BENCHMARKS.md from the result files the benchmark scripts wrote.

    python benchmarks/collect.py

Every table in BENCHMARKS.md is a file under benchmarks/results/*.md written by the script named
in its section (with the machine and date it ran on); this script only concatenates them.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, ROOT  # noqa: E402

SECTIONS = [
    (
        "grid_effnet",
        "The content-style paper's grid on real features: ImageNet EfficientNet-Lite0, frozen and trainable",
        "benchmarks/grid_effnet.py",
    ),
    (
        "tuned_baselines",
        "Win honestly: every method at its shipped defaults against baselines tuned with ssft tune",
        "benchmarks/tuned_baselines.py",
    ),
    ("defaults_dev", "How the shipped defaults were chosen (development data)", "benchmarks/defaults_dev.py"),
    (
        "fixmatch_effnet",
        "The FixMatch family on cached views: CIFAR-10, frozen EfficientNet-Lite0",
        "benchmarks/fixmatch_effnet.py",
    ),
    (
        "defaults_dev_fixmatch",
        "The FixMatch family on development data: centring, thresholds, alignment",
        "benchmarks/defaults_dev.py",
    ),
    (
        "feature_views_dev",
        "The FixMatch family on embeddings (feature-space views) against label spreading, development data",
        "benchmarks/feature_views_dev.py",
    ),
    (
        "fixmatch_forms_dev",
        "The FixMatch family: shipped defaults against the papers' forms (EMA weights, weak labelled views, mu = 7)",
        "benchmarks/fixmatch_forms_dev.py",
    ),
    (
        "finetune_dev",
        "Fine-tuning the text encoder: candidates on development data (Banking77)",
        "benchmarks/finetune_dev.py",
    ),
    (
        "finetune_refit_dev",
        "Did fine-tuning improve the text encoder? Frozen heads refit on its features (development data)",
        "benchmarks/finetune_refit_dev.py",
    ),
    (
        "finetune_interpolate_dev",
        "Between the head-first and the fine-tuned text model: interpolated weights, averaged outputs",
        "benchmarks/finetune_interpolate_dev.py",
    ),
    (
        "finetune_vision_dev",
        "Fine-tuning the vision backbone: candidates on development data (striped MNIST, CIFAR-10)",
        "benchmarks/finetune_vision_dev.py",
    ),
    (
        "finetune_vision",
        "Trainable against frozen content-style on the vision test parts",
        "benchmarks/finetune_vision.py",
    ),
    ("peers_banking77", "SetFit side by side with ssft on Banking77 (its test.csv)", "benchmarks/peers.py"),
    ("peers", "SetFit side by side with ssft, on ssft's AG News splits", "benchmarks/peers.py"),
    (
        "suggest",
        "Which items to label: ssft suggest against random picks and scikit-activeml",
        "benchmarks/suggest.py",
    ),
    ("effnet_speed", "EfficientNet-Lite0 extraction speed on CPU", "benchmarks/effnet_speed.py"),
    (
        "inference",
        "CPU prediction: torch eager against onnxruntime on the ONNX export",
        "benchmarks/inference.py",
    ),
    (
        "inference_profile_t1",
        "Where MiniLM's CPU prediction time goes: the bound on onnxruntime's speed-up",
        "benchmarks/inference_profile.py",
    ),
    (
        "inference_profile_t2",
        "Where MiniLM's CPU prediction time goes, two threads",
        "benchmarks/inference_profile.py",
    ),
    ("extract_speed", "ssft extract against the raw model forward on CPU", "benchmarks/extract_speed.py"),
    ("gpu", "The input pipeline: share of the raw model (GPU) and its own cost (CPU)", "benchmarks/gpu.py"),
    ("ssl_agnews", "AG News with the previous defaults (superseded)", "benchmarks/ssl_agnews.py"),
    ("ssl_mnist", "MNIST and striped MNIST, trainable random ViT from scratch", "benchmarks/ssl_mnist.py"),
    ("throughput", "Feature cache and throughput", "benchmarks/throughput.py"),
    ("reliability", "RELIABILITY", "benchmarks/reliability.py"),
    (
        "behaviour",
        "The run redesign: the same results and logged terms before and after",
        "benchmarks/behaviour.py",
    ),
    (
        "neighbour_libraries",
        "Approximate neighbours: hnswlib, pynndescent and faiss-cpu against exact",
        "benchmarks/neighbour_libraries.py",
    ),
    (
        "scale_neighbours",
        "Label spreading and k-NN as the pool grows (synthetic features)",
        "benchmarks/scale_neighbours.py",
    ),
    (
        "scale_neighbours.accuracy",
        "Label spreading on exact and approximate neighbour graphs (synthetic features)",
        "benchmarks/scale_neighbours.py",
    ),
    (
        "scale",
        "Cost against pool size: every method from 10^4 to 10^6 rows (synthetic pools)",
        "benchmarks/scale.py",
    ),
    (
        "scale_pool",
        "Accuracy against pool size: CIFAR-10 with 2,000 to 57,960 unlabelled images",
        "benchmarks/scale_pool.py",
    ),
    ("stress", "Stress and faults: concurrency, kills, corruption, disk full", "benchmarks/stress.py"),
    ("newcomer", "A newcomer's first hour, scripted (README examples in order)", "benchmarks/newcomer.py"),
]


def main() -> None:
    out = [
        "# ssft benchmarks",
        "",
        "Every figure below is produced by the script named in its section (rerun it to reproduce);",
        "each section states the machine and the date it ran. Accuracy is on the held-out test part,",
        "last checkpoint, mean ± std over seeds 0, 1, 2 (seed = model seed = split seed); the",
        "held-out part is fixed across seeds (`data.holdout_seed=0`). Rows use the library defaults",
        "unless their notes say otherwise; where a configuration was chosen, it was chosen on",
        "development data carved from the training pool only (`ssft tune`, `benchmarks/dev_split.py`,",
        "`benchmarks/defaults_dev.py`), never on a test item.",
        "",
    ]
    for name, title, script in SECTIONS:
        md = RESULTS / f"{name}.md"
        notes = RESULTS / f"{name}.notes.md"
        out += [f"## {title}", "", f"Script: `{script}`.", ""]
        if md.is_file():
            out += [md.read_text().rstrip(), ""]
        else:
            out += ["Not measured yet.", ""]
        if notes.is_file():
            out += [notes.read_text().rstrip(), ""]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(out))
    print(f"wrote {ROOT / 'BENCHMARKS.md'}")


if __name__ == "__main__":
    main()
