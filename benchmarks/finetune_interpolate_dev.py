"""Between the head-first model and the fine-tuned one: weights and outputs mixed (development data).

    python benchmarks/finetune_dev.py --k 4 --seeds 0 --datasets banking77 --out runs/ftdev \\
        --only frozen/fixmatch,ft/fixmatch-full-s200-lr5e-5-supcon1-bal2
    python benchmarks/finetune_interpolate_dev.py \\
        --run runs/ftdev/banking77/ft-fixmatch-full-s200-lr5e-5-supcon1-bal2/k4_seed0 \\
        --base runs/ftdev/banking77/frozen-fixmatch/k4_seed0

A trainable run with a head-first phase passes through two models: the one the head-first phase
ends with (the pretrained encoder and the head trained on its cached features, kept in
``<run>/head_first/checkpoint.pt``) and the fine-tuned one (``model.safetensors``). This script
scores what lies between them on the run's own held-out part (development runs only; the split is
rebuilt from the run's config):

- weight-space interpolation, WiSE-FT (Wortsman et al., "Robust fine-tuning of zero-shot models",
  CVPR 2022): every weight ``(1 - a) · start + a · fine-tuned`` for a grid of ``a`` (0 is the
  head-first model, 1 the run itself; buffers are the run's);
- output-space ensembles: the mean of the two models' class probabilities, and of the run's with a
  frozen FixMatch run's (``--base``) on the same split.

Writes ``benchmarks/results/finetune_interpolate_dev.{json,md}`` (one table per ``--run``; pass
several ``--run``/``--base`` pairs for several datasets).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save  # noqa: E402

ALPHAS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)


def start_state(run: Any, run_dir: Path) -> dict[str, torch.Tensor]:
    """The head-first model's state: the run's state with the pretrained backbone weights and the
    head-first phase's trained head."""
    from ssft.backbones import build_backbone

    state = {k: v.clone() for k, v in run.method.state_dict().items()}
    for k, v in build_backbone(run.cfg.backbone).state_dict().items():
        state["model.backbone." + k] = v
    first = torch.load(run_dir / "head_first" / "checkpoint.pt", weights_only=True)["method"]
    state.update(first)
    return state


def mix(start: dict[str, torch.Tensor], end: dict[str, torch.Tensor], a: float) -> dict[str, torch.Tensor]:
    return {
        k: ((1 - a) * start[k].float() + a * v.float()).to(v.dtype) if v.is_floating_point() else v
        for k, v in end.items()
    }


def score(run_dir: Path, base_dir: Path | None) -> dict[str, Any]:
    import ssft
    from ssft.data import load_dataset
    from ssft.data.splits import make_split

    run = ssft.load_run(run_dir, device="cpu")
    ds = load_dataset(run.cfg.data)
    sp = make_split(ds, run.cfg.data)
    raw = [ds.train.inputs[i] for i in sp.test]
    y = ds.train.labels[sp.test]
    end = {k: v.clone() for k, v in run.method.state_dict().items()}
    start = start_state(run, run_dir)

    def probs(state: dict[str, torch.Tensor]) -> np.ndarray:
        run.method.load_state_dict(state)
        run.method.eval()
        return run.predict(raw, batch_size=128).probabilities

    def acc(p: np.ndarray) -> float:
        return 100 * float((p.argmax(1) == y).mean())

    rows = []
    p_end = p_start = None
    for a in ALPHAS:
        p = probs(mix(start, end, a))
        p_end = p if a == 1.0 else p_end
        p_start = p if a == 0.0 else p_start
        rows.append({"model": f"weights, a = {a:g}", "accuracy": acc(p)})
        print(f"{run_dir}: a = {a:g}: {rows[-1]['accuracy']:.1f}", flush=True)
    assert p_end is not None and p_start is not None
    rows.append({"model": "outputs: head-first + fine-tuned", "accuracy": acc((p_start + p_end) / 2)})
    if base_dir is not None:
        base = ssft.load_run(base_dir, device="cpu")
        p_base = base.predict(raw, batch_size=128).probabilities
        rows.append({"model": "frozen FixMatch (--base)", "accuracy": acc(p_base)})
        rows.append({"model": "outputs: frozen FixMatch + fine-tuned", "accuracy": acc((p_base + p_end) / 2)})
    reported = 100 * run.results["test_accuracy"]
    assert abs(rows[ALPHAS.index(1.0)]["accuracy"] - reported) < 0.05, "a = 1 must be the run itself"
    return {"run": str(run_dir), "base": str(base_dir) if base_dir else None, "rows": rows}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", action="append", required=True, help="a fine-tuned development run")
    p.add_argument("--base", action="append", default=[], help="a frozen run on the same split")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    bases = args.base + [None] * (len(args.run) - len(args.base))
    tables = [score(Path(r), Path(b) if b else None) for r, b in zip(args.run, bases, strict=True)]
    md = []
    for t in tables:
        md += [f"`{t['run']}`", "", "| model | development accuracy % |", "|---|---|"]
        md += [f"| {r['model']} | {r['accuracy']:.1f} |" for r in t["rows"]] + [""]
    save("finetune_interpolate_dev", {"command": " ".join(sys.argv), "tables": tables}, "\n".join(md))


if __name__ == "__main__":
    main()
