"""The backbone families by the prefix of ``backbone.name`` (``hf:``, ``random:``, ``timm:`` ...).

A leaf registry: each family module registers its builder here when imported, and
:func:`ssft.backbones.build_backbone` looks the prefix up without naming any family. A builder
imports its heavy optional library (timm, open_clip, the EfficientNet wheels, transformers) only
when called, so importing every family module costs no such import. Prefixes are listed in the
order they were registered, which :mod:`ssft.backbones` fixes by the order it imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ssft.backbones.base import Backbone

#: builds the backbone from a :class:`~ssft.config.BackboneConfig`
Builder = Callable[[Any], Backbone]

FAMILIES: dict[str, Builder] = {}


def register_family(prefix: str) -> Callable[[Builder], Builder]:
    """Register ``builder`` for ``backbone.name=<prefix>:<rest>``; a prefix registered twice is a bug."""

    def deco(builder: Builder) -> Builder:
        if prefix in FAMILIES:
            raise ValueError(f"backbone family {prefix!r} is registered twice")
        FAMILIES[prefix] = builder
        return builder

    return deco
