"""The DISTRIBUTED figures: two processes (``torchrun``, gloo on CPU) with per-process batch B
against one process with batch 2B, same data, split and seed.

    OMP_NUM_THREADS=1 python benchmarks/distributed.py                  # AG News, all-MiniLM-L6-v2
    OMP_NUM_THREADS=1 python benchmarks/distributed.py --config demo    # offline digits, random backbone

Both runs read one feature cache, extracted first (so the wall times compare training, not
extraction). Writes benchmarks/results/distributed.{json,md}: the losses of the first steps side
by side, the largest difference over every logged step, the final test accuracies and the wall
times.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, save  # noqa: E402

FIRST = 10


def ssft_cmd(nproc: int) -> list[str]:
    if nproc == 1:
        return [sys.executable, "-m", "ssft"]
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "ssft",
    ]


def fit(nproc: int, config: str, keys: list[str], out: Path, env: dict[str, str]) -> float:
    args = ["fit", "--config", config, "--out", str(out)]
    for key in keys:
        args += ["--set", key]
    t0 = time.perf_counter()
    p = subprocess.run([*ssft_cmd(nproc), *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"{nproc}-process run failed:\n{(p.stdout + p.stderr)[-4000:]}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="agnews-minilm")
    ap.add_argument("--method", default="twinturbo")
    ap.add_argument("--batch", type=int, default=32, help="per-process batch B (one process: 2B)")
    ap.add_argument("--max-unlabeled", type=int, default=2000)
    ap.add_argument("--max-test", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    keys = [
        f"method.name={args.method}",
        "method.ramp=0",
        f"data.max_unlabeled={args.max_unlabeled}",
        f"data.max_test={args.max_test}",
        f"train.epochs={args.epochs}",
        "train.log_every=1",
        "train.device=cpu",
        "model.dropout=0",  # dropout draws differ between 1 and 2 processes; keep the runs comparable
    ]
    with TemporaryDirectory() as tmp:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "SSFT_CACHE": str(Path(tmp) / "cache")}
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
        warm = subprocess.run(
            [sys.executable, "-m", "ssft", "extract", "--config", args.config, *sum((["--set", k] for k in keys), [])],
            cwd=ROOT, env=env, capture_output=True, text=True,
        )  # fmt: skip
        if warm.returncode:
            raise SystemExit(f"extraction failed:\n{(warm.stdout + warm.stderr)[-4000:]}")
        runs = {}
        for nproc, batch in ((1, 2 * args.batch), (2, args.batch)):
            out = Path(tmp) / f"run{nproc}"
            seconds = fit(nproc, args.config, [*keys, f"train.batch_size={batch}"], out, env)
            lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
            results = json.loads((out / "results.json").read_text())
            runs[nproc] = {
                "processes": nproc,
                "batch_per_process": batch,
                "wall_seconds": seconds,
                "train_seconds": results["train_seconds"],
                "steps": results["steps"],
                "test_accuracy": results["test_accuracy"],
                "losses": [r["loss"] for r in lines if "loss" in r],
            }
    one, two = runs[1], runs[2]
    diffs = [abs(a - b) for a, b in zip(one["losses"], two["losses"], strict=True)]
    payload = {
        "config": args.config,
        "overrides": keys,
        "runs": [one, two],
        "max_abs_loss_difference": max(diffs),
        "accuracy_difference_points": 100 * abs(one["test_accuracy"] - two["test_accuracy"]),
    }
    rows = [
        f"| {s + 1} | {one['losses'][s]:.6f} | {two['losses'][s]:.6f} | {diffs[s]:.1e} |"
        for s in range(min(FIRST, len(diffs)))
    ]
    md = (
        f"`{args.config}`, {args.method}, {one['steps']} steps, batch {one['batch_per_process']} in one "
        f"process against 2 x {two['batch_per_process']} under torchrun (gloo, CPU, one thread each); "
        "one feature cache extracted beforehand.\n\n"
        "| step | loss, 1 process | loss, 2 processes | difference |\n|---|---|---|---|\n"
        + "\n".join(rows)
        + f"\n\nLargest loss difference over all {len(diffs)} steps: {max(diffs):.1e}.\n\n"
        "| | 1 process | 2 processes |\n|---|---|---|\n"
        f"| test accuracy | {one['test_accuracy']:.4f} | {two['test_accuracy']:.4f} |\n"
        f"| training seconds | {one['train_seconds']:.1f} | {two['train_seconds']:.1f} |\n"
        f"| wall seconds (launch to exit) | {one['wall_seconds']:.1f} | {two['wall_seconds']:.1f} |"
    )
    save("distributed", payload, md)


if __name__ == "__main__":
    main()
