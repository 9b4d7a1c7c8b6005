"""``ssft fit`` with two CPU processes (gloo), end to end.

Two ranks with per-rank batch B against one process with batch 2B, same data and seed: the same
logged losses step by step (tolerance ``LOSS_TOL``) and the same test accuracy; the feature cache
extracted in shares by the two ranks equals the one a single process extracts; only rank 0 writes
the run directory; a rank that fails stops the whole job within seconds; the job resumes under
two ranks exactly where it stopped. The ranks are forked from the test process with the variables
``torchrun`` sets (fast: nothing to import again); the slow tests run the real ``torchrun -m ssft``.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
from ddp_worker import run

import ssft

pytestmark = pytest.mark.skipif(
    not dist.is_available() or "fork" not in mp.get_all_start_methods(),
    reason="needs torch.distributed and fork",
)

STEPS, B = 12, 8
#: Logged losses of 2 x B and 1 x 2B agree to float32 rounding of a different summation order.
LOSS_TOL = 1e-4
COMMON = [
    f"train.steps={STEPS}",
    "train.log_every=1",
    "train.device=cpu",
    "data.max_unlabeled=200",
    "data.max_test=100",
]
TWINTURBO = ["method.name=twinturbo", "method.ramp=0"]  # every term on from the first step


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rank(spec: dict, env: dict[str, str]) -> None:
    os.environ.update(env)
    torch.set_num_threads(1)
    run(spec)


def launch(spec: dict, nproc: int = 2, timeout: float = 240) -> list[tuple[int, float]]:
    """Fork ``nproc`` ranks of ``spec`` with torchrun's environment; (exit code, seconds) each."""
    port, ctx = free_port(), mp.get_context("fork")
    procs = []
    t0 = time.perf_counter()
    for r in range(nproc):
        env = {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "RANK": str(r),
            "LOCAL_RANK": str(r),
            "WORLD_SIZE": str(nproc),
            "LOCAL_WORLD_SIZE": str(nproc),
            # A rank left waiting would sit in a collective this long: far beyond the test's limits.
            "SSFT_DIST_TIMEOUT": "900",
        }
        p = ctx.Process(target=_rank, args=(spec, env))
        p.start()
        procs.append(p)
    ended: dict[int, float] = {}
    while len(ended) < nproc and time.perf_counter() - t0 < timeout:
        for r, p in enumerate(procs):
            if r not in ended and p.exitcode is not None:
                ended[r] = time.perf_counter() - t0
        time.sleep(0.05)
    for p in procs:
        if p.exitcode is None:
            p.kill()
        p.join()
    return [(int(p.exitcode), ended.get(r, float("inf"))) for r, p in enumerate(procs)]


def one_process(out: Path, cache: Path, overrides: list[str]) -> Path:
    old = os.environ.get("SSFT_CACHE")
    os.environ["SSFT_CACHE"] = str(cache)
    try:
        return ssft.fit("demo", out=out, overrides=overrides).run_dir
    finally:
        if old is None:
            del os.environ["SSFT_CACHE"]
        else:
            os.environ["SSFT_CACHE"] = old


def metrics(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


def assert_same_losses(got: list[dict], want: list[dict]) -> None:
    got_steps = [r for r in got if "loss" in r]
    want_steps = [r for r in want if "loss" in r]
    assert [r["step"] for r in got_steps] == [r["step"] for r in want_steps]
    for g, w in zip(got_steps, want_steps, strict=True):
        for term in w:
            assert g[term] == pytest.approx(w[term], abs=LOSS_TOL, rel=LOSS_TOL), (g["step"], term)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One process with batch 2B (its own cache), and two ranks with batch B (a fresh cache, so
    the ranks extract it in shares), TwinTURBO with every term on."""
    root = tmp_path_factory.mktemp("ddp")
    one = one_process(root / "one", root / "cache-one", [*COMMON, *TWINTURBO, f"train.batch_size={2 * B}"])
    spec = {
        "out": str(root / "two"),
        "overrides": [*COMMON, *TWINTURBO, f"train.batch_size={B}"],
        "audit": str(root / "audit"),
        "cache": str(root / "cache-two"),
    }
    assert [code for code, _ in launch(spec)] == [0, 0]
    return {"root": root, "one": one, "two": root / "two"}


def test_two_ranks_match_one_process_with_the_doubled_batch(pair: dict) -> None:
    assert_same_losses(metrics(pair["two"]), metrics(pair["one"]))
    one = json.loads((pair["one"] / "results.json").read_text())
    two = json.loads((pair["two"] / "results.json").read_text())
    assert abs(one["test_accuracy"] - two["test_accuracy"]) <= 0.01
    assert two["steps"] == one["steps"] == STEPS


def test_shared_extraction_writes_the_entry_one_process_writes(pair: dict) -> None:
    one, two = pair["root"] / "cache-one", pair["root"] / "cache-two"
    # no parts left; a part's lock file stays (a lock file is never deleted: another process may hold it)
    left = sorted(p.name for p in two.iterdir() if not (p.name.endswith(".lock") and "-part" in p.name))
    assert left == sorted(p.name for p in one.iterdir())
    for entry in (e for e in one.iterdir() if e.is_dir()):  # beside each entry: its <key>.lock
        meta_one = json.loads((entry / "meta.json").read_text())
        meta_two = json.loads((two / entry.name / "meta.json").read_text())
        for field in ("n", "dim", "tokens", "chunk", "num_chunks", "store", "key"):
            assert meta_two[field] == meta_one[field], field
        assert (two / entry.name / "complete.json").exists()
        for name in ("pooled.f16", "tokens.f16"):
            a = np.fromfile(entry / name, dtype="<f2").astype(np.float32)
            b = np.fromfile(two / entry.name / name, dtype="<f2").astype(np.float32)
            np.testing.assert_allclose(b, a, rtol=2e-3, atol=2e-3)  # float16 rounding at most


def test_only_rank_zero_writes_the_run_directory(pair: dict) -> None:
    rank0 = json.loads((pair["root"] / "audit.0.json").read_text())
    rank1 = json.loads((pair["root"] / "audit.1.json").read_text())
    assert rank1 == []
    final = {name for name in rank0 if not name.startswith(".")}  # atomic writes' temp files aside
    assert {"config.yaml", "split.json", "metrics.jsonl", "checkpoint.pt", "results.json"} <= final
    assert "model.safetensors" in final


@pytest.fixture(scope="module")
def failed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two ranks, rank 1 raising at step 7, a checkpoint every 4 steps."""
    root = tmp_path_factory.mktemp("ddp-fail")
    spec = {
        "out": str(root / "run"),
        "overrides": [*COMMON, *TWINTURBO, f"train.batch_size={B}", "train.checkpoint_every=4"],
        "fail_at_step": 7,
        "cache": str(root / "cache"),
    }
    return {"root": root, "run": root / "run", "ranks": launch(spec)}


def test_a_failing_rank_stops_every_rank(failed: dict) -> None:
    (code0, end0), (code1, end1) = failed["ranks"]
    assert code1 != 0 and code0 != 0
    # Rank 0 did not wait for its collective's timeout (900 s): it stopped right after rank 1.
    assert end0 - end1 < 20, (end0, end1)
    assert not (failed["run"] / "results.json").exists()
    assert metrics(failed["run"])[-1]["step"] <= 7
    assert torch.load(failed["run"] / "checkpoint.pt", weights_only=True)["step"] == 4


def test_resume_under_two_ranks_continues_exactly(failed: dict, pair: dict) -> None:
    spec = {"out": str(failed["run"]), "resume": True, "cache": str(failed["root"] / "cache")}
    assert [code for code, _ in launch(spec)] == [0, 0]
    # The resumed two-rank run logs what the uninterrupted one-process run with 2B logged.
    assert_same_losses(metrics(failed["run"]), metrics(pair["one"]))
    assert json.loads((failed["run"] / "results.json").read_text())["steps"] == STEPS


def test_sigterm_on_one_rank_stops_every_rank_at_the_same_step(tmp_path: Path) -> None:
    spec = {
        "out": str(tmp_path / "run"),
        "overrides": [*COMMON, *TWINTURBO, f"train.batch_size={B}"],
        "signal_at_step": 5,
        "cache": str(tmp_path / "cache"),
    }
    ranks = launch(spec)
    assert all(code != 0 for code, _ in ranks)  # Interrupted, on both ranks
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert state["step"] == 6 and state["world_size"] == 2 and len(state["rank_rng"]) == 2
    assert metrics(tmp_path / "run")[-1]["step"] == 6
    assert not (tmp_path / "run" / "results.json").exists()


def test_resume_with_another_number_of_processes_is_refused(failed: dict, tmp_path: Path) -> None:
    import shutil

    from ssft.errors import ConfigError

    shutil.copytree(failed["run"], tmp_path / "run")
    old = os.environ.get("SSFT_CACHE")
    os.environ["SSFT_CACHE"] = str(failed["root"] / "cache")
    try:
        with pytest.raises(ConfigError, match="written by 2 process"):
            ssft.fit(out=tmp_path / "run", resume=True)
    finally:
        if old is None:
            del os.environ["SSFT_CACHE"]
        else:
            os.environ["SSFT_CACHE"] = old


def test_a_classical_baseline_runs_on_rank_zero(tmp_path: Path) -> None:
    keys = [*COMMON, "method.name=label_spreading"]
    one = one_process(tmp_path / "one", tmp_path / "cache", keys)
    spec = {"out": str(tmp_path / "two"), "overrides": keys, "cache": str(tmp_path / "cache")}
    spec["audit"] = str(tmp_path / "audit")
    assert [code for code, _ in launch(spec)] == [0, 0]
    acc = [json.loads((run / "results.json").read_text())["test_accuracy"] for run in (one, tmp_path / "two")]
    assert acc[0] == acc[1]
    assert json.loads((tmp_path / "audit.1.json").read_text()) == []


METHOD_KEYS = {
    "content_style": ["method.name=content_style", "method.ramp=0", "method.dropout=0"],
    "fixmatch": ["method.name=fixmatch", "method.threshold=0.5"],
    "freematch": ["method.name=freematch"],
    "softmatch": ["method.name=softmatch", "method.ema=0.5"],  # fast statistics: weights below 1
    # the backbone's last block trained too: it runs live on each rank and DDP averages its gradients
    "twinturbo-trainable": [*TWINTURBO, "backbone.frozen=false", "backbone.train_blocks=1", "train.steps=6"],
}


@pytest.mark.parametrize(
    "method",
    [m if "trainable" not in m else pytest.param(m, marks=pytest.mark.slow) for m in sorted(METHOD_KEYS)],
)
def test_other_methods_two_ranks_match_one_process(method: str, tmp_path: Path) -> None:
    keys = [*COMMON, *METHOD_KEYS[method]]
    one = one_process(tmp_path / "one", tmp_path / "cache", [*keys, f"train.batch_size={2 * B}"])
    spec = {"out": str(tmp_path / "two"), "overrides": [*keys, f"train.batch_size={B}"]}
    assert [code for code, _ in launch({**spec, "cache": str(tmp_path / "cache")})] == [0, 0]
    assert_same_losses(metrics(tmp_path / "two"), metrics(one))
    if method == "softmatch":  # soft weights below 1 were used, so the weights had to agree
        assert min(r.get("weight_mean", 1.0) for r in metrics(one)) < 1
    elif "match" in method:  # pseudo-labels were used, so the masks had to agree
        assert max(r.get("mask_rate", 0.0) for r in metrics(one)) > 0
    acc = [json.loads((run / "results.json").read_text())["test_accuracy"] for run in (one, tmp_path / "two")]
    assert abs(acc[0] - acc[1]) <= 0.01


@pytest.mark.slow
def test_torchrun_m_ssft_fit(pair: dict, tmp_path: Path) -> None:
    """The real launcher and command line: ``torchrun -m ssft fit`` (twice: then ``--resume``
    of the finished run is refused on every rank with one clear message)."""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "SSFT_CACHE": str(tmp_path / "cache"),
        "PYTHONPATH": os.pathsep.join(
            [str(Path(ssft.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]
        ),
    }
    launcher = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "ssft",
    ]
    args = ["fit", "--config", "demo", "--out", str(tmp_path / "run")]
    for key in [*COMMON, *TWINTURBO, f"train.batch_size={B}"]:
        args += ["--set", key]
    p = subprocess.run([*launcher, *args], env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
    assert p.stdout.count("test accuracy") == 1  # rank 0 prints the result
    assert_same_losses(metrics(tmp_path / "run"), metrics(pair["one"]))
    again = subprocess.run([*launcher, *args], env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode != 0
    assert "already holds a run" in again.stderr
