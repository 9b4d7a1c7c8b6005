"""A hub model that is neither cached nor reachable fails at once, with one message naming `hf`."""

from __future__ import annotations

import logging
import time

import pytest

from ssft.backbones import build_backbone
from ssft.config import BackboneConfig
from ssft.errors import BackboneError


def test_unreachable_hub_fails_fast_without_network_log_lines(monkeypatch, capsys, caplog):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    probes = []

    def no_route(address, timeout=None, **kw):
        probes.append((address, timeout))
        raise OSError("Network is unreachable")

    def touched(*a, **k):
        raise AssertionError("the hub client was called although the hub is unreachable")

    monkeypatch.setattr("socket.create_connection", no_route)
    monkeypatch.setattr("transformers.AutoConfig.from_pretrained", touched)
    caplog.set_level(logging.DEBUG)
    t0 = time.perf_counter()
    with pytest.raises(BackboneError) as e:
        build_backbone(BackboneConfig(name="hf:ssft-tests/never-cached-model"))
    assert time.perf_counter() - t0 < 5.0
    msg = str(e.value)
    assert "cannot be reached" in msg and "`hf download ssft-tests/never-cached-model`" in msg
    assert "huggingface-cli" not in msg
    assert probes and probes[0][1] <= 5.0
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_offline_flag_and_not_cached_fails_before_the_hub_client(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def touched(*a, **k):
        raise AssertionError("the hub client was called although HF_HUB_OFFLINE is set")

    monkeypatch.setattr("transformers.AutoConfig.from_pretrained", touched)
    with pytest.raises(BackboneError, match="HF_HUB_OFFLINE is set.*hf download"):
        build_backbone(BackboneConfig(name="hf:ssft-tests/never-cached-model"))
