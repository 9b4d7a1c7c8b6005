"""Behaviour record: a fixed set of CPU runs whose ``results.json`` and ``metrics.jsonl`` must not
change when the code is reorganised.

    python benchmarks/behaviour.py record OUT          # run the set, keep the files under OUT
    python benchmarks/behaviour.py compare OLD NEW     # every number equal, or the differences

The set: every method on the offline demo (EfficientNet-Lite0, frozen) and on AG News (MiniLM,
frozen, capped pools), every trainable method on the random demo backbone and on AG News with the
text trainable preset (few steps), a head-first run, a run interrupted by SIGINT and resumed, and
a two-process DDP run under ``torchrun``. All seed 0. Times, memory peaks and versions are left out
of the comparison; everything else (accuracy, every logged term at every logged step) must be equal.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ALL = [
    "supervised",
    "fixmatch",
    "freematch",
    "softmatch",
    "twinturbo",
    "content_style",
    "label_spreading",
    "linear_probe",
    "knn",
]
TRAINABLE = ["supervised", "fixmatch", "freematch", "softmatch", "twinturbo", "content_style"]
AG = ["data.max_unlabeled=1500", "data.max_test=300"]
AG_TRAIN = ["data.max_unlabeled=200", "data.max_test=100", "train.steps=6", "train.head_first_epochs=1"]


def runs() -> dict[str, tuple[str, list[str]]]:
    """name -> (preset, overrides)."""
    out: dict[str, tuple[str, list[str]]] = {}
    for m in ALL:
        out[f"demo-{m}"] = ("demo-effnet", [f"method.name={m}"])
        out[f"ag-{m}"] = ("agnews-minilm", [f"method.name={m}", *AG])
    for m in TRAINABLE:
        out[f"demo-trainable-{m}"] = ("demo", [f"method.name={m}", "backbone.frozen=false", "train.steps=12"])
    out["demo-trainable-headfirst"] = (
        "demo",
        ["method.name=fixmatch", "backbone.frozen=false", "train.steps=12", "train.head_first_epochs=2"],
    )
    out["demo-validation"] = (
        "demo-effnet",
        ["method.name=fixmatch", "data.val_per_class=3", "train.eval_every=1"],
    )
    out["demo-ema"] = ("demo-effnet", ["method.name=fixmatch", "train.ema_weights=0.9"])
    out["ag-trainable-fixmatch"] = ("agnews-minilm-trainable", AG_TRAIN)  # the preset's own method
    for m in TRAINABLE:
        if m != "fixmatch":
            out[f"ag-trainable-{m}"] = ("agnews-minilm-trainable", [f"method.name={m}", *AG_TRAIN])
    return out


RESUME = ("demo", ["method.name=fixmatch", "train.steps=400", "train.checkpoint_every=5"])
DDP = ("demo", ["method.name=fixmatch", "train.steps=20", "train.batch_size=16"])


def command(preset: str, out: Path, overrides: list[str]) -> list[str]:
    cmd = [sys.executable, "-m", "ssft", "fit", "--config", preset, "--out", str(out)]
    for o in overrides:
        cmd += ["--set", o]
    return cmd


def record(out: Path, only: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SSFT_CACHE": str(out / "cache")}
    for name, (preset, overrides) in runs().items():
        if only and not any(o in name for o in only):
            continue
        if (out / name / "results.json").exists():
            continue
        t0 = time.perf_counter()
        p = subprocess.run(command(preset, out / name, overrides), env=env, capture_output=True, text=True)
        if p.returncode:
            print(f"{name}: FAILED\n{p.stderr[-3000:]}", flush=True)
            continue
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
    if not only or "resume" in only:
        resumed(out / "resume", env)
    if not only or "ddp" in only:
        ddp(out / "ddp", env)


def resumed(run: Path, env: dict[str, str]) -> None:
    """Start, SIGINT after the first checkpoint, then ``--resume`` to the end."""
    if (run / "results.json").exists():
        return
    preset, overrides = RESUME
    interrupted = (run / "checkpoint.pt").exists()  # left by an earlier record: resume it
    if not interrupted:
        cmd = command(preset, run, overrides)
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        while p.poll() is None and not (run / "checkpoint.pt").exists():
            time.sleep(0.05)
        p.send_signal(signal.SIGINT)
        p.communicate()
        interrupted = p.returncode != 0
    cmd = [sys.executable, "-m", "ssft", "fit", "--resume", str(run)]
    q = subprocess.run(cmd, env=env, capture_output=True, text=True) if interrupted else None
    ok = q is None or q.returncode == 0
    print(
        f"resume: interrupted={interrupted} {'ok' if ok or q is None else 'FAILED ' + q.stderr[-2000:]}",
        flush=True,
    )


def ddp(run: Path, env: dict[str, str]) -> None:
    if (run / "results.json").exists():
        return
    preset, overrides = DDP
    launcher = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "ssft",
    ]
    cmd = [*launcher, *command(preset, run, overrides)[3:]]
    p = subprocess.run(cmd, env={**env, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True)
    print(f"ddp: {'ok' if p.returncode == 0 else 'FAILED ' + p.stderr[-3000:]}", flush=True)


def volatile(key: str) -> bool:
    return (
        key.endswith("_seconds")
        or key.startswith("peak_")
        or key.endswith("_version")
        or key in ("git_commit", "seconds", "ssft_version", "cache")
    )


def clean(obj: object) -> object:
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items() if not volatile(k)}
    if isinstance(obj, list):
        return [clean(v) for v in obj]
    return obj


def load(run: Path) -> dict[str, object]:
    results = clean(json.loads((run / "results.json").read_text()))
    lines = (run / "metrics.jsonl").read_text().splitlines() if (run / "metrics.jsonl").exists() else []
    return {"results": results, "metrics": [clean(json.loads(line)) for line in lines if line.strip()]}


def diff(a: object, b: object, where: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{where}.{k}: only in {'old' if k in a else 'new'}" for k in set(a) ^ set(b)]
        for k in sorted(set(a) & set(b)):
            out += diff(a[k], b[k], f"{where}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} entries against {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in diff(x, y, f"{where}[{i}]")]
    return [] if a == b else [f"{where}: {a!r} -> {b!r}"]


def compare(old: Path, new: Path, save_as: str | None = None) -> int:
    names = sorted(p.parent.name for p in old.glob("*/results.json"))
    rows, bad = [], 0
    for name in names:
        if not (new / name / "results.json").exists():
            print(f"{name}: missing in {new}")
            rows.append((name, "missing", 0))
            bad += 1
            continue
        new_run = load(new / name)
        found = diff(load(old / name), new_run, name)
        lines = len(new_run["metrics"])  # type: ignore[arg-type]
        print(f"{name}: {'identical' if not found else f'{len(found)} differences'}")
        for line in found[:10]:
            print("   ", line)
        rows.append((name, "identical" if not found else f"{len(found)} differences", lines))
        bad += bool(found)
    summary = f"{len(names) - bad} of {len(names)} runs identical"
    print(summary)
    if save_as:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from common import save

        table = ["| run | results.json and metrics.jsonl | metrics lines |", "|---|---|---|"]
        table += [f"| {n} | {verdict} | {lines} |" for n, verdict, lines in rows]
        text = (
            f"`python benchmarks/behaviour.py compare {old} {new}`: {summary} (every field but times, "
            "memory peaks and versions; every logged term at every logged step).\n\n" + "\n".join(table)
        )
        save(save_as, {"old": str(old), "new": str(new), "rows": rows, "summary": summary}, text)
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("out", type=Path)
    r.add_argument("--only", nargs="*", default=[], help="substrings of run names (resume, ddp)")
    c = sub.add_parser("compare")
    c.add_argument("old", type=Path)
    c.add_argument("new", type=Path)
    c.add_argument("--save", default=None, help="also write benchmarks/results/<name>.{md,json}")
    args = ap.parse_args()
    if args.cmd == "record":
        record(args.out, args.only)
        return 0
    return compare(args.old, args.new, args.save)


if __name__ == "__main__":
    sys.exit(main())
