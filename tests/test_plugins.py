"""ssft.plugins: the config layer imports no method, yet resolves method.name from any entry point."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_importing_the_config_imports_no_method() -> None:
    assert _run("import sys, ssft.config; print('ssft.methods' in sys.modules)") == "False"


def test_a_config_parsed_first_thing_resolves_its_method() -> None:
    # Nothing imported the methods before this parse: the registry's loader must.
    code = "from ssft.config import load_config; print(type(load_config('demo').method).__name__)"
    assert _run(code) == "FixMatchConfig"


def test_an_unknown_method_still_lists_every_known_one() -> None:
    code = (
        "from ssft.config import load_config\n"
        "try:\n    load_config(None, ['method.name=bogus'])\n"
        "except Exception as e:\n    print(e)"
    )
    msg = _run(code)
    assert msg.startswith("unknown method.name 'bogus'; known: ")
    assert "fixmatch" in msg and "twinturbo" in msg


def test_load_plugins_is_idempotent() -> None:
    from ssft.config.method_registry import _METHOD_CONFIGS
    from ssft.plugins import load_plugins

    load_plugins()
    before = dict(_METHOD_CONFIGS)
    load_plugins()
    assert before == _METHOD_CONFIGS
    assert "fixmatch" in before
