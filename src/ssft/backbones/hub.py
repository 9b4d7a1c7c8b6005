"""Fail fast, with one message, when a hub model is neither cached nor reachable.

Without this check an offline machine spends tens of seconds in the hub client's retries (and
prints its network log lines) before the real error appears.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

from ssft.errors import BackboneError

PROBE_TIMEOUT_S = 3.0


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() not in ("", "0", "false", "no")


def is_cached(model_id: str, revision: str | None) -> bool:
    """True when the model's config.json is in the local hub cache."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - transformers depends on huggingface_hub
        return False
    try:
        found = try_to_load_from_cache(model_id, "config.json", revision=revision)
    except Exception:  # a malformed id is reported by the loader itself
        return False
    return isinstance(found, str)


def hub_reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """One TCP connection to the hub endpoint (``HF_ENDPOINT``), with a short timeout."""
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme != "http" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def download_hint(model_id: str) -> str:
    return (
        f"download it once with network access (`hf download {model_id}`, from the huggingface_hub "
        "package), then run with HF_HUB_OFFLINE=1; or pass a local folder (backbone.name=hf:/path/to/model)"
    )


def check_hub_model_available(model_id: str, revision: str | None) -> None:
    """Raise a BackboneError at once when ``model_id`` is not cached and the hub cannot be reached."""
    if is_cached(model_id, revision):
        return
    if hub_offline():
        raise BackboneError(
            f"cannot load backbone {model_id!r}: it is not in the local hub cache and HF_HUB_OFFLINE "
            f"is set. Fix: {download_hint(model_id)}"
        ) from None
    if not hub_reachable():
        raise BackboneError(
            f"cannot load backbone {model_id!r}: it is not in the local hub cache and the hub "
            f"({os.environ.get('HF_ENDPOINT', 'https://huggingface.co')}) cannot be reached. "
            f"Fix: {download_hint(model_id)}"
        ) from None
