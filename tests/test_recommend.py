"""The recommendation users read (ssft methods, --help, README) stays true to BENCHMARKS.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ssft.cli import main
from ssft.config import Config
from ssft.recommend import RECOMMENDATION, RECOMMENDED

ROOT = Path(__file__).resolve().parents[1]


def win_table() -> list[list[str]]:
    text = (ROOT / "BENCHMARKS.md").read_text()
    start = text.index("| dataset | k | best ssft method (defaults) |")
    rows = []
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def first_number(cell: str) -> float:
    return float(re.search(r"\d+(\.\d+)?", cell).group())


def test_recommended_method_is_best_or_within_a_point_and_beats_tuned_baselines():
    rows = win_table()
    assert len(rows) == 9  # 3 datasets x k = 1, 4, 10
    name = {"fixmatch": "FixMatch"}[RECOMMENDED]
    for dataset, k, best, spreading, probe, _ in rows:
        best_value = first_number(best.split("(")[0])
        own = re.search(rf"{name}\s+(\d+(\.\d+)?)", best)
        assert own, f"{dataset} k={k}: {name} missing from {best!r}"
        value = float(own.group(1))
        assert value >= best_value - 1.0, (dataset, k)
        assert value > first_number(spreading) and value > first_number(probe), (dataset, k)


def test_recommendation_is_where_users_look_and_is_the_default(capsys):
    assert Config().method.name == RECOMMENDED
    main(["methods"])
    out = capsys.readouterr().out
    assert out.startswith("Recommended: fixmatch (the default)")
    spreading = next(x for x in out.splitlines() if x.strip().startswith("label_spreading"))
    assert spreading.rstrip().endswith("while fitting).")  # the whole one-liner, not cut at "(inductive"
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "Recommended: fixmatch" in " ".join(capsys.readouterr().out.split())
    readme = (ROOT / "README.md").read_text()
    assert RECOMMENDATION.split(".")[0] in readme[:3000]
