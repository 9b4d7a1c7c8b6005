"""A newcomer's first hour, scripted: the README's commands in order, on ../shared/data, each
output checked for what issue 23 found wrong (defaults, recommendation, honest scores, messages).

    python benchmarks/newcomer.py    # about 4 CPU minutes (17 min wall on the loaded shared machine)

Every command runs as its own process (``python -m ssft ...``, one thread) from the repository
root, the way the README shows it; runs and caches go under /work/scratch/newcomer (or
$NEWCOMER_DIR), a fresh folder per walkthrough. Sizes are capped (``data.max_unlabeled``,
``data.max_test``, ``--quick``) so the walk fits in minutes; the checks are about what a user
reads, not about accuracy. Writes benchmarks/results/newcomer.md and .json.
"""

from __future__ import annotations

import csv
import os
import re
import resource
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, require_shared, save  # noqa: E402

Check = tuple[str, Callable[[int, str], bool]]
NEWS_CLASSES = ("World", "Sports", "Business", "Sci/Tech")
SCRATCH = Path(os.environ.get("NEWCOMER_DIR", "/work/scratch/newcomer"))


def _registered_methods() -> int:
    from ssft.methods import METHODS

    return len(list(METHODS))


N_METHODS = _registered_methods()  # the demo runs every registered method


def ssft(*args: str) -> list[str]:
    return [sys.executable, "-m", "ssft", *args]


def run(argv: list[str], work: Path) -> tuple[int, str, float, float]:
    """Exit code, stdout + stderr, wall seconds and CPU seconds of one command."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    env["SSFT_CACHE"] = str(work / "cache")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return p.returncode, p.stdout + p.stderr, wall, cpu


def flat(text: str) -> str:
    return " ".join(text.split())


def write_inputs(work: Path) -> dict[str, Path]:
    """A partly labelled text CSV from AG News (10 labelled rows per class, 260 unlabelled), an .npz of
    embeddings (8x8 digit pixels, 10 labelled per class) and a folder with one corrupt image."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    news = require_shared("ag_news") / "test.csv"
    with news.open(newline="") as f:
        rows = list(csv.DictReader(f))[:300]
    items = work / "items.csv"
    with items.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        seen: dict[str, int] = {}
        for r in rows:  # the first 10 items of each class labelled, the rest not
            name = NEWS_CLASSES[int(r["Class Index"]) - 1]
            seen[name] = seen.get(name, 0) + 1
            w.writerow([f"{r['Title']}. {r['Description']}", name if seen[name] <= 10 else ""])
    X, y = load_digits(return_X_y=True)
    y_semi = np.full_like(y, -1)
    for c in range(10):
        y_semi[np.flatnonzero(y == c)[:10]] = c
    np.savez(work / "emb.npz", X=X.astype(np.float32), y=y_semi)
    bad = work / "new_images"
    bad.mkdir()
    Image.new("L", (8, 8)).save(bad / "ok.png")
    (bad / "broken.png").write_bytes(b"this is not a png")
    return {"items": items, "emb": work / "emb.npz", "bad": bad}


ESTIMATOR = """
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score
import ssft
from ssft import SemiSupervisedClassifier
X, y = load_digits(return_X_y=True)
y_semi = np.full_like(y, -1)
for c in range(10):
    y_semi[np.flatnonzero(y == c)[:10]] = c
s = cross_val_score(SemiSupervisedClassifier("label_spreading"), X, y_semi, cv=3)
print("cross_val_score", " ".join(f"{v:.3f}" for v in s))
try:
    SemiSupervisedClassifier("twinturbo", lambda_k1=0.1)
except TypeError as e:
    print("TypeError:", e)
"""


def steps(w: Path, inp: dict[str, Path]) -> list[tuple[str, list[str], list[Check]]]:
    items = ["--set", "data.name=csv", "--set", f"data.path={inp['items']}", "--set", "data.text_column=text"]
    return [
        (
            "ssft --help",
            ssft("--help"),
            [
                ("recommends a method (item 7)", lambda rc, o: "Recommended: fixmatch" in flat(o)),
                ("demo help says pretrained (item 12)", lambda rc, o: "pretrained EfficientNet" in flat(o)),
            ],
        ),
        (
            "ssft methods",
            ssft("methods"),
            [
                ("recommendation first (item 7)", lambda rc, o: o.startswith("Recommended: fixmatch")),
                (
                    "label_spreading's line whole (item 7)",
                    lambda rc, o: (
                        "while fitting)."
                        in next(x for x in o.splitlines() if x.startswith("  label_spreading"))
                    ),
                ),
            ],
        ),
        (
            "ssft demo --quick",
            ssft("demo", "--out", str(w / "demo"), "--quick"),
            [
                (
                    f"runs all {N_METHODS} registered methods (item 12)",
                    lambda rc, o: rc == 0 and len(list((w / "demo").glob("*_seed0"))) == N_METHODS,
                ),
                (
                    "sweep-style folder names (item 12)",
                    lambda rc, o: (w / "demo" / "fixmatch_seed0").is_dir(),
                ),
            ],
        ),
        (
            "ssft fit --config agnews-minilm (twinturbo, k=4, capped)",
            ssft(
                "fit",
                "--config",
                "agnews-minilm",
                "--set",
                "method.name=twinturbo",
                "--set",
                "data.labels_per_class=4",
                "--set",
                "data.max_unlabeled=400",
                "--set",
                "data.max_test=400",
                "--out",
                str(w / "agnews-k4"),
            ),  # fmt: skip
            [("accuracy with its 95 % interval (item 5)", lambda rc, o: rc == 0 and "95 % interval" in o)],
        ),
        (
            "ssft fit on a partly labelled CSV, no method or backbone given",
            ssft("fit", *items, "--set", "data.max_test=100", "--out", str(w / "items")),
            [
                (
                    "a real text backbone by default (item 6)",
                    lambda rc, o: (
                        rc == 0
                        and _saved(w / "items", "backbone", "hf:sentence-transformers/all-MiniLM-L6-v2")
                    ),
                ),
                (
                    "the recommended method by default (item 6)",
                    lambda rc, o: _saved(w / "items", "method", "fixmatch"),
                ),
                (
                    "unused labels said, with the fix (item 5)",
                    lambda rc, o: "labels_per_class=all" in flat(o),
                ),
                (
                    "small test part warned, interval stated (item 5)",
                    lambda rc, o: "the test part has only" in flat(o),
                ),
            ],
        ),
        (
            "the same CSV with data.labels_per_class=all",
            ssft("fit", *items, "--set", "data.labels_per_class=all", "--out", str(w / "items-all")),
            [
                (
                    "every label used (item 5)",
                    lambda rc, o: rc == 0 and "beyond data.labels_per_class" not in o,
                )
            ],
        ),
        (
            "the same CSV with an image backbone",
            ssft("fit", *items, "--set", "backbone.name=random:dinov2-tiny", "--out", str(w / "items-bad")),
            [
                (
                    "refused before any work, fix named (item 3)",
                    lambda rc, o: rc == 2 and "is text but backbone" in flat(o) and "features " not in o,
                )
            ],
        ),
        (
            "mnist-offline with a text backbone",
            ssft(
                "fit",
                "--config",
                "mnist-offline",
                "--set",
                "backbone.name=hf:sentence-transformers/all-MiniLM-L6-v2",
                "--out",
                str(w / "mnist-text"),
            ),
            [
                (
                    "refused before any work (item 3)",
                    lambda rc, o: rc == 2 and "is image but backbone" in flat(o),
                )
            ],
        ),
        (
            "ssft fit on embeddings (.npz), no backbone given",
            ssft(
                "fit",
                "--set",
                "data.name=features",
                "--set",
                f"data.path={inp['emb']}",
                "--set",
                "method.name=twinturbo",
                "--out",
                str(w / "emb"),
            ),
            [
                (
                    "features:64 picked for the data (items 3, 6)",
                    lambda rc, o: rc == 0 and _saved(w / "emb", "backbone", "features:64"),
                )
            ],
        ),
        (
            "the estimator: cross_val_score and a typo",
            [sys.executable, "-c", ESTIMATOR],
            [
                (
                    "scores labelled rows only (item 1)",
                    lambda rc, o: (
                        rc == 0
                        and min(map(float, o.split("cross_val_score")[1].split("\n")[0].split())) > 0.5
                    ),
                ),
                (
                    "an unknown parameter is refused (item 2)",
                    lambda rc, o: "TypeError:" in o and "lambda_k1" in o,
                ),
            ],
        ),
        (
            "ssft report --confusion on the demo",
            ssft("report", str(w / "demo"), "--out", str(w / "report"), "--confusion"),
            [
                (
                    "confusion progress shown (item 8)",
                    lambda rc, o: rc == 0 and f"confusion matrix {N_METHODS}/{N_METHODS}" in o,
                ),
                (
                    "one seed: no ± 0.0 (item 8)",
                    lambda rc, o: "± 0.0" not in (w / "report" / "report.md").read_text(),
                ),
            ],
        ),
        (
            "ssft tune --help",
            ssft("tune", "--help"),
            [("default seeds shown (item 9)", lambda rc, o: "default: 0,1,2" in flat(o))],
        ),
        (
            "ssft tune (label spreading, 2 trials)",
            ssft(
                "tune",
                "--config",
                "demo",
                "--set",
                "method.name=label_spreading",
                "--trials",
                "2",
                "--seeds",
                "0",
                "--out",
                str(w / "tune"),
            ),
            [
                (
                    "parameters printed short (item 9)",
                    lambda rc, o: rc == 0 and not re.search(r"=\d\.\d{7,}", o),
                )
            ],
        ),
        (
            "ssft predict with a corrupt image",
            ssft(
                "predict",
                "--run",
                str(w / "demo" / "linear_probe_seed0"),
                "--input",
                str(inp["bad"]),
                "--out",
                str(w / "p.csv"),
            ),
            [
                (
                    "names the file, no training-only key (item 11)",
                    lambda rc, o: rc == 2 and "broken.png" in o and "skip_bad" not in o,
                )
            ],
        ),
        (
            "ssft show-data (striped MNIST)",
            ssft(
                "show-data",
                "--config",
                "mnist-offline",
                "--set",
                "data.name=mnist_stripes_yellow",
                "--out",
                str(w / "grid.png"),
            ),
            [
                (
                    "readable size with a legend (item 12)",
                    lambda rc, o: rc == 0 and _width(w / "grid.png") >= 400,
                )
            ],
        ),
    ]


def _saved(run: Path, section: str, value: str) -> bool:
    import yaml

    path = run / "config.yaml"
    return path.is_file() and yaml.safe_load(path.read_text())[section]["name"] == value


def _width(path: Path) -> int:
    from PIL import Image

    return Image.open(path).size[0] if path.is_file() else 0


def main() -> None:
    work = SCRATCH / time.strftime("walk-%Y%m%d-%H%M%S")
    work.mkdir(parents=True)
    inputs = write_inputs(work)
    table, results, table_steps, t_all = [], [], [], time.perf_counter()
    for title, argv, checks in steps(work, inputs):
        rc, out, wall, cpu = run(argv, work)
        (work / f"step{len(table_steps):02d}.log").write_text(out)
        table_steps.append(title)
        for fact, ok in checks:
            try:
                passed = bool(ok(rc, out))
            except Exception:  # a check that cannot read its output has failed
                passed = False
            results.append({"step": title, "fact": fact, "passed": passed, "rc": rc, "cpu_s": round(cpu, 1)})
            table.append(f"| {title} | {fact} | {'yes' if passed else '**NO**'} | {cpu:.1f} | {wall:.1f} |")
        print(f"{title}: rc {rc}, {cpu:.1f} CPU s", flush=True)
    n_ok = sum(r["passed"] for r in results)
    md = textwrap.dedent(
        f"""\
        Command: `python benchmarks/newcomer.py` (each step a `python -m ssft ...` process, one
        thread, from the repository root; logs in {work}). The machine was shared with other jobs:
        wall seconds are inflated, CPU seconds less so. Sizes are capped so the walk takes minutes.

        {n_ok} of {len(results)} checks pass; total {time.perf_counter() - t_all:.0f} s wall.

        | step | what a newcomer should see | seen | CPU s | wall s |
        |---|---|---|---|---|
        """
    ) + "\n".join(table)
    save("newcomer", {"checks": results, "work": str(work)}, md)
    sys.exit(0 if n_ok == len(results) else 1)


if __name__ == "__main__":
    main()
