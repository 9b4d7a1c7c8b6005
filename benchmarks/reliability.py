"""The RELIABILITY figures: bad-input cases covered, the kill-and-resume result, fuzz counts.

    python benchmarks/reliability.py

Runs the reliability tests with pytest (kill-and-resume three times, since the kill step is
random) and counts what they cover; writes benchmarks/results/reliability.{json,md}.
"""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, save  # noqa: E402

GROUPS = {
    "bad input, end to end (one clear error each, or handled)": ["tests/test_bad_input.py"],
    "bad input, dataset readers": ["tests/data/test_datasets.py"],
    "feature cache (hit, mismatch, torn files, resume, OOM halving, NaN)": ["tests/features/test_cache.py"],
    "backbones (unknown names, remote code, offline)": ["tests/backbones/test_backbones.py"],
    "interrupt and resume (SIGKILL, SIGTERM, torn checkpoint, sweep)": ["tests/train/test_resume.py"],
    "fuzzing (hypothesis): config, overrides, splits, CSV and image-folder readers": [
        "tests/test_config_fuzz.py",
        "tests/data/test_fuzz.py",
    ],
}


def run(files: list[str], tmp: Path, tag: str) -> tuple[int, int, int, str]:
    xml = tmp / f"{tag}.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--hypothesis-show-statistics",
         f"--junitxml={xml}", *files],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    suite = ET.parse(xml).getroot()
    suite = suite if suite.tag == "testsuite" else suite[0]
    tests, failures = int(suite.get("tests", 0)), int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    skipped = int(suite.get("skipped", 0))
    return tests, failures, skipped, proc.stdout


def main() -> None:
    rows, payload = [], {}
    with TemporaryDirectory() as tmp:
        for i, (name, files) in enumerate(GROUPS.items()):
            tests, failed, skipped, out = run(files, Path(tmp), f"g{i}")
            examples = sum(int(x) for x in re.findall(r"(\d+) passing(?: examples)?,", out))
            payload[name] = {"tests": tests, "failed": failed, "skipped": skipped, "fuzz_examples": examples}
            extra = f", {examples} generated examples" if examples else ""
            rows.append(
                f"| {name} | {tests - failed - skipped} / {tests} passed ({skipped} skipped{extra}) |"
            )
        kills = []
        for i in range(3):
            _, failed, _, out = run(
                ["tests/train/test_resume.py::test_sigkill_at_a_random_step_then_resume_is_exact"],
                Path(tmp),
                f"k{i}",
            )
            kills.append(failed == 0)
    payload["sigkill_resume_exact"] = kills
    md = [
        "| what | result |",
        "|---|---|",
        *rows,
        "",
        f"SIGKILL at a random step (twinturbo, demo data, checkpoint every step), then `ssft fit --resume`: "
        f"{sum(kills)} / {len(kills)} repetitions ended with every logged loss term and the test accuracy "
        "bit-identical to an uninterrupted run.",
    ]
    save("reliability", payload, "\n".join(md))


if __name__ == "__main__":
    main()
