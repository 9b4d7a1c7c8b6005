"""The listing subcommands: ``ssft backbones``, ``datasets``, ``methods``, ``presets`` and ``cache``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ssft.cli_common import print_table
from ssft.errors import SsftError


def cmd_backbones(args: argparse.Namespace) -> int:
    from ssft.backbones import available_backbones

    print_table(available_backbones())
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from ssft.data import available_datasets

    print_table(available_datasets())
    return 0


def cmd_methods(args: argparse.Namespace) -> int:
    import textwrap

    from ssft.methods import METHODS
    from ssft.recommend import RECOMMENDATION

    print(textwrap.fill(RECOMMENDATION, 100), end="\n\n")
    print_table(METHODS.describe())
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    from ssft.config import load_source, preset_names

    for name in preset_names():
        data = load_source(name)
        desc = data.get("description", "")
        print(f"  {name:<28} {desc}")
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    from ssft.features import default_cache_dir, list_caches, remove_cache

    root = Path(args.dir) if args.dir else default_cache_dir()
    if args.action == "ls":
        entries = list_caches(root)
        print(f"cache folder: {root} ({len(entries)} entries)")
        for e in entries:
            size = e.get("size", 0) / 2**20
            meta = e.get("meta") or {}
            state = "complete" if e.get("complete") else "partial"
            print(
                f"  {e['key']}  {size:9.1f} MiB  {state:<8}  {meta.get('backbone', '?')}  {meta.get('dataset', '?')}"
            )
        return 0
    if not args.keys:
        raise SsftError("ssft cache rm needs one or more keys (or prefixes); see ssft cache ls")
    for key in args.keys:
        for removed in remove_cache(key, root):
            print(f"removed {removed}")
    return 0


def add_lists(sub: Any) -> None:
    """Add the four listing subcommands (no options)."""
    for name, fn, text in (
        ("backbones", cmd_backbones, "list backbone names and presets"),
        ("datasets", cmd_datasets, "list datasets"),
        ("methods", cmd_methods, "list training methods"),
        ("presets", cmd_presets, "list config presets"),
    ):
        sub.add_parser(name, help=text).set_defaults(func=fn)


def add_cache(sub: Any) -> None:
    """Add ``ssft cache ls|rm``."""
    ca = sub.add_parser("cache", help="list or remove cached features")
    ca.add_argument("action", choices=["ls", "rm"], help="ls: list the entries; rm: remove some")
    ca.add_argument("keys", nargs="*", help="keys or key prefixes to remove")
    ca.add_argument("--dir", help="cache folder (default: $SSFT_CACHE or ~/.cache/ssft)")
    ca.set_defaults(func=cmd_cache)
