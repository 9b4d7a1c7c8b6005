"""Under torchrun: one progress line per step (rank 0's), extraction bars that say they count a
share, and a resume hint that names torchrun."""

from __future__ import annotations

import io

from ssft.distributed import resume_command
from ssft.features.extract import _bar_label
from ssft.progress import LineProgress, progress_bar


def test_only_rank_0_shows_progress(monkeypatch, capsys):
    monkeypatch.setenv("RANK", "1")
    bar = progress_bar(10, desc="fixmatch", unit="step")
    bar.update(10)
    bar.close()
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("RANK", "0")
    bar = progress_bar(10, desc="fixmatch", unit="step")
    assert isinstance(bar, LineProgress) and not bar.disable
    bar.file = io.StringIO()
    bar.update(10)
    assert "fixmatch: 100% 10/10" in bar.file.getvalue()


def test_resume_hint_names_torchrun(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert resume_command("runs/a") == "ssft fit --resume runs/a"
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert resume_command("runs/a") == "torchrun --nproc-per-node 2 -m ssft fit --resume runs/a"


def test_extraction_bar_says_it_counts_a_share():
    meta = {"backbone": "effnet:lite0", "dataset": "cifar10", "rows": [0, 500], "n": 1000, "world": 2}
    assert (
        _bar_label(meta, "k") == "features effnet:lite0 cifar10 (rank 0's share: rows 0-500 of 1000, 2 ranks)"
    )
    assert _bar_label({"backbone": "b"}, "k") == "features b"


def test_the_training_loop_uses_the_hint():
    import inspect

    import ssft.train.trainer as trainer

    assert "resume with: {resume_command(self.run_dir)}" in inspect.getsource(trainer.Trainer.fit)
