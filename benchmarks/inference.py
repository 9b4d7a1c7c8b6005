"""CPU prediction speed: torch eager against onnxruntime on ssft's ONNX export.

    python benchmarks/inference.py            # writes benchmarks/results/inference.md (+ .json)

EfficientNet-Lite0 at 128 and 224 px (real CIFAR-10 images) and all-MiniLM-L6-v2 at 64 and 256
tokens (real AG News texts, joined so that every item fills the length): items per second at 1 and
2 threads, batch 1 and 64, for

* ``torch``: the export graph itself run by torch eager (inference mode): backbone + head, exactly
  what ``Run.predict`` computes once the inputs are tensors;
* ``ort``: onnxruntime (all graph optimisations) on the file ``ssft export`` writes;
* MiniLM, batch 64 only, the two ways studied to go further: ``ort-fused``, the same model exported
  through the TorchScript exporter with eager attention and rewritten by onnxruntime's transformer
  optimizer (fused Attention, SkipLayerNorm, BiasGelu), and ``ort-int8``, ``ort`` with its weights
  quantised to int8 (onnxruntime dynamic quantisation). Neither is what ``ssft export`` writes.

Each model's engines are timed interleaved in one process (torch, then each session, repeated),
so load from other processes on a shared machine hits all of them alike: compare the ratios, not
the absolute rates. The heads are freshly initialised (seeded); speed does not depend on training.
``max |diff|``: largest difference between the engine's class probabilities and ``Run.predict``'s
on the batch-64 items.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import require_shared, save  # noqa: E402
from ssft.api import Run  # noqa: E402
from ssft.config import load_config  # noqa: E402
from ssft.export import export_onnx, onnx_inputs  # noqa: E402
from ssft.export.graph import build_graph  # noqa: E402
from ssft.export.session import session  # noqa: E402

NUM_CLASSES = 10


def fresh_run(preset: str, overrides: list[str], tmp: Path) -> Run:
    """A Run with a freshly built (seeded) head: what an export of a trained run computes."""
    from ssft.backbones import build_backbone
    from ssft.heads.model import SSFTModel
    from ssft.methods import build_method
    from ssft.methods.base import centers_input

    cfg = load_config(preset, overrides)
    torch.manual_seed(0)
    backbone = build_backbone(cfg.backbone).freeze()
    model = SSFTModel(backbone, cfg.model, NUM_CLASSES, center=centers_input(cfg))
    method = build_method(cfg.method, model, class_counts=np.ones(NUM_CLASSES), seed=0)
    classes = [str(i) for i in range(NUM_CLASSES)]
    return Run(tmp, cfg, method.eval(), classes, torch.device("cpu"))


def cifar_items(n: int) -> list[np.ndarray]:
    files = sorted(require_shared("cifar10").glob("*/*.jpg"))[::97][:n]
    return [np.asarray(Image.open(f).convert("RGB")) for f in files]


def agnews_items(n: int) -> list[str]:
    with (require_shared("ag_news") / "test.csv").open() as f:
        rows = list(csv.reader(f))[1:]
    # eight news items per text: longer than 256 tokens, so every item is truncated to the length
    return [" ".join(f"{r[1]}. {r[2]}" for r in rows[i : i + 8]) for i in range(0, 8 * n, 8)]


def fused_text_export(run: Run, path: Path) -> Path:
    """The study variant: TorchScript export with eager attention, then onnxruntime's BERT fusions."""
    from onnxruntime.transformers.optimizer import optimize_model

    backbone: Any = run.method.model.backbone
    backbone.model.set_attn_implementation("eager")
    graph = build_graph(run)
    ex = {k: torch.from_numpy(v) for k, v in onnx_inputs(run, ["a short text", "and a second one"]).items()}
    axes = {k: {0: "batch", 1: "length"} for k in ex} | {"probabilities": {0: "batch"}}
    raw = path.with_suffix(".raw.onnx")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            (ex["input_ids"], ex["attention_mask"]),
            str(raw),
            input_names=["input_ids", "attention_mask"],
            output_names=["probabilities"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    cfg = backbone.model.config
    model = optimize_model(
        str(raw), model_type="bert", num_heads=cfg.num_attention_heads, hidden_size=cfg.hidden_size
    )
    fused = model.get_fused_operator_statistics()
    model.save_model_to_file(str(path))
    backbone.model.set_attn_implementation("sdpa")
    print(f"  fused operators: { {k: v for k, v in fused.items() if v} }")
    return path


def int8_export(src: Path, path: Path) -> Path:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    opts = {"DefaultTensorType": onnx.TensorProto.FLOAT}
    quantize_dynamic(str(src), str(path), weight_type=QuantType.QInt8, extra_options=opts)
    return path


def measure(
    run: Run, files: dict[str, Path], items: list[Any], threads: int, batch: int, budget: float
) -> dict[str, float]:
    """Items per second of torch and of each ONNX file on ``items[:batch]``, interleaved."""
    torch.set_num_threads(threads)
    graph = build_graph(run)
    feeds = onnx_inputs(run, items[:batch])
    tin = [torch.from_numpy(feeds[k]) for k in graph.input_names]
    sessions = {name: session(path, threads) for name, path in files.items()}
    calls: dict[str, Any] = {"torch": lambda: graph(*tin)}
    for name, s in sessions.items():
        calls[name] = lambda s=s: s.run(["probabilities"], feeds)
    times: dict[str, list[float]] = {k: [] for k in calls}
    with torch.inference_mode():
        for fn in calls.values():
            fn()  # warm-up
        start = time.perf_counter()
        while min(len(v) for v in times.values()) < 3 or (
            time.perf_counter() - start < budget and min(len(v) for v in times.values()) < 20
        ):
            for name, fn in calls.items():
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
    return {name: batch / statistics.median(v) for name, v in times.items()}


def max_diff(run: Run, path: Path, items: list[Any]) -> float:
    feeds = onnx_inputs(run, items)
    got = session(path).run(["probabilities"], feeds)[0]
    ref = run.predict(list(feeds["pixels"]) if "pixels" in feeds else items).probabilities
    return float(np.abs(got - ref).max())


def bench_model(label: str, run: Run, items: list[Any], tmp: Path, args: argparse.Namespace) -> list[dict]:
    print(f"{label}: exporting", flush=True)
    files = {"ort": export_onnx(run, tmp / f"{label}.onnx")}
    extra: dict[str, Path] = {}
    if run.method.model.backbone.modality == "text" and not args.no_variants:
        extra["ort-fused"] = fused_text_export(run, tmp / f"{label}-fused.onnx")
        extra["ort-int8"] = int8_export(files["ort"], tmp / f"{label}-int8.onnx")
    diffs = {name: max_diff(run, path, items[:64]) for name, path in {**files, **extra}.items()}
    rows = []
    for threads in (1, 2):
        for batch in (1, 64):
            use = {**files, **(extra if batch == 64 else {})}
            speed = measure(run, use, items, threads, batch, args.budget)
            for name in use:
                rows.append(
                    {
                        "model": label,
                        "threads": threads,
                        "batch": batch,
                        "engine": name,
                        "torch_items_s": speed["torch"],
                        "items_s": speed[name],
                        "ratio": speed[name] / speed["torch"],
                        "max_abs_diff": diffs[name],
                    }
                )
            print(
                f"  threads {threads} batch {batch}: " + ", ".join(f"{k} {v:.1f}/s" for k, v in speed.items())
            )
    return rows


def markdown(rows: list[dict], command: str) -> str:
    lines = [
        f"Command: `{command}`. The machine was shared with other jobs: compare the ratios "
        "(measured interleaved in one process), not the absolute rates.",
        "",
        "| model | threads | batch | engine | torch items/s | engine items/s | engine / torch | max abs diff |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['threads']} | {r['batch']} | {r['engine']} | {r['torch_items_s']:.1f} | "
            f"{r['items_s']:.1f} | {r['ratio']:.2f}x | {r['max_abs_diff']:.1e} |"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--budget", type=float, default=6.0, help="seconds of timing per setting (at least 3 reps)"
    )
    p.add_argument("--models", default="effnet-128,effnet-224,minilm-64,minilm-256")
    p.add_argument("--work", default="/work/scratch/export/inference", help="folder for the ONNX files")
    p.add_argument("--no-variants", action="store_true", help="skip MiniLM's fused and int8 study variants")
    args = p.parse_args()
    rows: list[dict] = []
    tmp = Path(args.work)
    tmp.mkdir(parents=True, exist_ok=True)
    for label in args.models.split(","):
        kind, size = label.split("-")
        if kind == "effnet":
            run = fresh_run("cifar10-effnet", [f"backbone.image_size={size}", "cache.store=pooled"], tmp)
            items = cifar_items(64)
        else:
            run = fresh_run("agnews-minilm", [f"backbone.max_length={size}"], tmp)
            items = agnews_items(64)
        rows += bench_model(label, run, items, tmp, args)
    command = "python benchmarks/inference.py " + " ".join(sys.argv[1:])
    save("inference", {"rows": rows, "command": command.strip()}, markdown(rows, command.strip()))


if __name__ == "__main__":
    main()
