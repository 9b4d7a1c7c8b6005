"""The loop a user follows: suggest, label, fit on exactly those items, suggest the next batch."""

from __future__ import annotations

import csv
import json

import pytest

from ssft.cli import main


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_suggest_label_fit_suggest_again(tmp_path, capsys):
    picks = tmp_path / "picks.csv"
    assert main(["suggest", "--config", "demo", "--budget", "12", "--out", str(picks)]) == 0
    rows = read(picks)
    assert len(rows) == 12 and {"rank", "index", "item", "score", "strategy", "label"} <= set(rows[0])
    assert rows[0]["strategy"] == "typiclust" and all(r["label"] == "" for r in rows)
    assert "suggest: typiclust picks 12" in capsys.readouterr().err  # the progress lines

    run = tmp_path / "run"
    sets = ["--set", "train.steps=3", "--set", f"data.labeled_items={picks}", "--out", str(run)]
    assert main(["fit", "--config", "demo", *sets]) == 0
    res = json.loads((run / "results.json").read_text())
    split = json.loads((run / "split.json").read_text())
    chosen = sorted(int(r["index"]) for r in rows)
    assert sorted(split["labeled"]) == chosen and res["num_labeled"] == 12
    assert sorted(i["index"] for i in res["labeled_items"]) == chosen

    nxt = tmp_path / "next.csv"
    assert main(["suggest", "--run", str(run), "--budget", "8", "--out", str(nxt)]) == 0
    more = read(nxt)
    assert len(more) == 8 and more[0]["strategy"] == "margin_coverage" and "predicted" in more[0]
    assert not {int(r["index"]) for r in more} & set(chosen)  # never an item already labelled
    # the cold-start strategy after a run: the same budget and seed would pick the same items again
    # if the run's labelled items were not known to it
    again = tmp_path / "again.csv"
    assert main(["suggest", "--run", str(run), "-n", "12", "--strategy", "typiclust", "-o", str(again)]) == 0
    assert not {int(r["index"]) for r in read(again)} & set(chosen)


def test_deterministic_for_a_seed(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    for out in (a, b):
        assert (
            main(
                ["suggest", "-c", "demo", "-n", "5", "--strategy", "probcover", "--seed", "1", "-o", str(out)]
            )
            == 0
        )
    assert read(a) == read(b)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-c", "demo", "-n", "0"], "--budget must be >= 1"),
        (["-c", "demo", "-n", "3", "--strategy", "margin"], "pass --run RUN"),
        (["--run", "somewhere", "-c", "demo", "-n", "3"], "drop --config"),
        (["--run", "nowhere", "-n", "3"], "not a finished run"),
        (["-c", "demo", "-n", "100000"], "larger than the"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path, capsys, args, message):
    code = main(["suggest", *args, "-o", str(tmp_path / "x.csv")])
    assert code == 2 and message in capsys.readouterr().err
