"""The FixMatch family end to end: views reach the batch through x_ulb_w / x_ulb_s, cached or live."""

from __future__ import annotations

import json

import pytest

from ssft.config import load_config
from ssft.run.runner import fit

FAST = ["train.steps=4", "train.batch_size=16", "data.labels_per_class=2", "train.log_every=2",
        "data.max_unlabeled=60", "cache.strong_views=1"]  # fmt: skip


def cfg(*extra: str):
    return load_config("demo", [*FAST, *extra])


@pytest.mark.parametrize("method", ["fixmatch", "freematch"])
def test_view_methods_run_from_cached_views_and_reload(tmp_path, method):
    r = fit(
        cfg(f"method.name={method}", "method.lambda_u=1", f"cache.dir={tmp_path / 'c'}"), tmp_path / "run"
    )
    lines = [json.loads(x) for x in (r.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert {"ce", "unsup", "mask_rate"} <= set(lines[-1])
    assert r.results["backbone_forward_passes_extraction"] > 0
    assert r.load().evaluate()["test_accuracy"] == pytest.approx(r.test_accuracy)
    again = fit(cfg(f"method.name={method}", "seed=1", f"cache.dir={tmp_path / 'c'}"), tmp_path / "again")
    assert again.results["backbone_forward_passes_extraction"] == 0  # strong views cached once


def test_view_methods_make_views_live_without_the_cache(tmp_path):
    r = fit(cfg("method.name=fixmatch", "cache.enabled=false", "backbone.frozen=false"), tmp_path / "run")
    assert r.results["steps"] == 4


def test_no_strong_views_is_one_clear_error(tmp_path):
    from ssft.errors import ConfigError

    with pytest.raises(ConfigError, match="cache.strong_views >= 1"):
        fit(cfg("method.name=fixmatch", "cache.strong_views=0"), tmp_path / "run")


def test_resume_continues_the_view_draws(tmp_path):
    keys = [
        "method.name=fixmatch",
        "method.threshold=0.0",
        "train.steps=6",
        "train.log_every=1",
        "cache.views=2",
        "cache.strong_views=3",
    ]  # fmt: skip  (so the drawn views matter)
    full = fit(cfg(*keys), tmp_path / "full")
    part = cfg(*keys, "train.checkpoint_every=3")
    from ssft.train.run_dir import MetricsLog

    original = MetricsLog.write

    def stop_at_four(self, record):  # a crash after step 4, one step past the last checkpoint
        original(self, record)
        if record.get("step") == 4:
            raise KeyboardInterrupt

    MetricsLog.write = stop_at_four
    try:
        with pytest.raises(KeyboardInterrupt):
            fit(part, tmp_path / "part")
    finally:
        MetricsLog.write = original
    resumed = fit(None, tmp_path / "part", resume=True)
    a = [json.loads(x) for x in (full.run_dir / "metrics.jsonl").read_text().splitlines()]
    b = [json.loads(x) for x in (resumed.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(a) == len(b) == 6
    assert [x["loss"] for x in a] == pytest.approx([x["loss"] for x in b], rel=1e-5)


def test_extract_fills_the_views_the_method_reads(tmp_path):
    from ssft.run.extract import extract_for_config

    keys = ["method.name=fixmatch", f"cache.dir={tmp_path / 'c'}"]
    stats = extract_for_config(cfg(*keys))
    plain = extract_for_config(cfg("method.name=supervised", "cache.dir=" + str(tmp_path / "d")))
    assert stats["forward_passes"] > plain["forward_passes"]  # the strong views too
    assert fit(cfg(*keys), tmp_path / "run").results["backbone_forward_passes_extraction"] == 0


def test_consistency_option_reads_strong_views(tmp_path):
    r = fit(cfg("method.name=twinturbo", "method.lambda_consistency=0.5", "method.ramp=0"), tmp_path / "run")
    last = [json.loads(x) for x in (r.run_dir / "metrics.jsonl").read_text().splitlines()][-1]
    assert {"consistency", "consistency_mask_rate"} <= set(last)
