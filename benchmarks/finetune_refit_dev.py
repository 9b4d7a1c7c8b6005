"""Did fine-tuning improve the encoder itself? Heads refit on its features (development data).

    python benchmarks/finetune_dev.py --k 4 --seeds 0 --datasets banking77 --out runs/ftdev \\
        --only frozen/fixmatch,ft/fixmatch-full-s200-lr5e-5-supcon1-bal2
    python benchmarks/finetune_refit_dev.py \\
        --run runs/ftdev/banking77/ft-fixmatch-full-s200-lr5e-5-supcon1-bal2/k4_seed0 \\
        --base runs/ftdev/banking77/frozen-fixmatch/k4_seed0

Both runs are development runs (Banking77 ``train.csv`` with 25 % held out; its ``test.csv`` is
never read). The split is rebuilt from the fine-tuned run's own config, so every head below sees the
same labelled items, the same unlabelled pool and the same held-out part. The pooled features of
those items are encoded once by the fine-tuned encoder and once by the pretrained one, and three
heads are fitted on each at their shipped defaults (``SemiSupervisedClassifier``: the linear probe,
label spreading, FixMatch with feature-space views). The fine-tuned run's own head is the reference
(its ``results.json``). Writes ``benchmarks/results/finetune_refit_dev.{json,md}``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save  # noqa: E402

METHODS = ("linear_probe", "label_spreading", "fixmatch")


def pooled(backbone: torch.nn.Module, raw: list[str]) -> tuple[np.ndarray, float]:
    from ssft.train.predict import encode_raw

    t = time.process_time()
    feats = encode_raw(backbone, raw, torch.device("cpu"), 128)
    return feats.pooled.float().numpy(), time.process_time() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="a fine-tuned development run")
    p.add_argument("--base", required=True, help="a frozen run of the same backbone")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)
    import ssft
    from ssft.data import load_dataset
    from ssft.data.splits import make_split

    run = ssft.load_run(args.run, device="cpu")
    base = ssft.load_run(args.base, device="cpu")
    ds = load_dataset(run.cfg.data)
    sp = make_split(ds, run.cfg.data)
    idx = np.concatenate([sp.labeled, sp.unlabeled, sp.test])
    raw = [ds.train.inputs[i] for i in idx]
    n_fit = len(sp.labeled) + len(sp.unlabeled)
    y_fit = np.concatenate([ds.train.labels[sp.labeled], -np.ones(len(sp.unlabeled), dtype=np.int64)])
    y_test = ds.train.labels[sp.test]
    own = 100 * run.results["test_accuracy"]
    rows = [{"features": "fine-tuned", "head": "the run's own (trained with the encoder)", "accuracy": own}]
    for name, backbone in (
        ("fine-tuned", run.method.model.backbone),
        ("pretrained", base.method.model.backbone),
    ):
        X, secs = pooled(backbone, raw)
        for m in METHODS:
            clf = ssft.SemiSupervisedClassifier(m, seed=args.seed).fit(X[:n_fit], y_fit)
            acc = 100 * float((clf.predict(X[n_fit:]) == y_test).mean())
            rows.append({"features": name, "head": m, "accuracy": acc, "encode_cpu_s": secs})
            print(f"{name:<11} {m:<16} {acc:.1f}", flush=True)
    md = ["| features | head | development accuracy % |", "|---|---|---|"]
    md += [f"| {r['features']} | {r['head']} | {r['accuracy']:.1f} |" for r in rows]
    save("finetune_refit_dev", {"command": " ".join(sys.argv), "run": args.run, "rows": rows}, "\n".join(md))


if __name__ == "__main__":
    main()
