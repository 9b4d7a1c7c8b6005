"""The export graph (a torch Module) computes what Run.predict computes, before any ONNX."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssft.api import load_run
from ssft.errors import ConfigError
from ssft.export.graph import build_graph
from ssft.export.inputs import onnx_inputs
from ssft.export.verify import sample_test_items


@pytest.mark.parametrize("which", ["image_run", "text_run"])
def test_graph_matches_run_predict(which, request):
    run = load_run(request.getfixturevalue(which), device="cpu")
    items = sample_test_items(run, 12)
    feeds = onnx_inputs(run, items)
    graph = build_graph(run)
    with torch.no_grad():
        got = graph(*(torch.from_numpy(feeds[k]) for k in graph.input_names)).numpy()
    same = list(feeds["pixels"]) if "pixels" in feeds else items
    ref = run.predict(same).probabilities
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, atol=1e-6)
    np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-5)


def test_graph_reproduces_the_cached_float16_view(image_run):
    # The head was trained on float16 cached tokens: a graph that skipped the cast would differ.
    run = load_run(image_run, device="cpu")
    feeds = onnx_inputs(run, sample_test_items(run, 8))
    graph = build_graph(run)
    with torch.no_grad():
        exact = graph(torch.from_numpy(feeds["pixels"]))
        graph.cached = False
        skipped = graph(torch.from_numpy(feeds["pixels"]))
    assert not torch.equal(exact, skipped)


def test_a_scikit_learn_method_is_refused_with_the_fix(tmp_path):
    from ssft.config import load_config
    from ssft.run.runner import fit

    cfg = load_config("demo", ["method.name=label_spreading", f"cache.dir={tmp_path / 'cache'}"])
    run = load_run(fit(cfg, tmp_path / "run").run_dir, device="cpu")
    with pytest.raises(ConfigError, match="scikit-learn.*Run.export"):
        build_graph(run)
