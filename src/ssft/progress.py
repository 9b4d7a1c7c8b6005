"""Progress bars that suit where they are written.

On a terminal: tqdm's live bar. Anywhere else (a log file, a pipe, a batch job): one plain line per
update, at most one per ``every`` fraction of the work or ``seconds`` of time, so a log holds a
readable history instead of thousands of carriage returns on one line.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, TextIO


class LineProgress:
    """The subset of tqdm's interface ssft uses, printing whole lines."""

    def __init__(
        self,
        total: int,
        *,
        desc: str = "",
        unit: str = "it",
        initial: int = 0,
        disable: bool = False,
        file: TextIO | None = None,
        every: float = 0.1,
        seconds: float = 30.0,
    ) -> None:
        self.total, self.n, self.desc, self.unit, self.disable = total, initial, desc, unit, disable
        self.file = file
        self._every = max(1, int(total * every)) if total else 1
        self._seconds = seconds
        self._postfix = ""
        self._t0 = self._last_t = time.monotonic()
        self._start_n = self._last_n = initial
        self._closed = False

    def set_postfix(self, **kw: Any) -> None:
        self._postfix = ", ".join(f"{k}={v}" for k, v in kw.items())

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if self.n - self._last_n >= self._every or now - self._last_t >= self._seconds:
            self._line(now)

    def _line(self, now: float) -> None:
        if self.disable:
            return
        self._last_n, self._last_t = self.n, now
        done = self.n - self._start_n
        rate = done / max(now - self._t0, 1e-9)
        left = (self.total - self.n) / rate if rate > 0 and self.total else 0.0
        pct = f"{100.0 * self.n / self.total:3.0f}% " if self.total else ""
        text = f"{self.desc}: {pct}{self.n}/{self.total} {self.unit} ({rate:.1f} {self.unit}/s, {left:.0f} s left)"
        if self._postfix:
            text += f" {self._postfix}"
        print(text, file=self.file or sys.stderr, flush=True)

    def close(self) -> None:
        if not self._closed and self.n != self._last_n:
            self._line(time.monotonic())
        self._closed = True

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def progress_bar(total: int, *, desc: str, unit: str, initial: int = 0, disable: bool = False) -> Any:
    """tqdm on a terminal, :class:`LineProgress` otherwise; silent on torchrun's ranks other than 0
    (one progress line per step, not one per rank)."""
    disable = disable or os.environ.get("RANK", "0") != "0"
    stream = sys.stderr
    if stream is not None and hasattr(stream, "isatty") and stream.isatty():
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=initial, desc=desc, unit=unit, disable=disable)
    return LineProgress(total, desc=desc, unit=unit, initial=initial, disable=disable)
