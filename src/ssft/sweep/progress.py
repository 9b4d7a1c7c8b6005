"""A sweep's progress line: done / running / failed / left, and the time left at the pace so far."""

from __future__ import annotations

import sys
import time


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class SweepProgress:
    """Counts the runs of a sweep and prints one line per event (stdout, flushed)."""

    def __init__(self, total: int, *, verbose: bool = True) -> None:
        self.total, self.verbose = total, verbose
        self.done = self.failed_count = self.skipped_count = 0
        self.running: str | None = None
        self._t_start = 0.0
        self._spent = 0.0  # seconds of the runs this invocation trained (not those done before)
        self._trained = 0

    @property
    def left(self) -> int:
        return self.total - self.done - self.failed_count - (self.running is not None)

    def eta(self) -> str:
        if not self._trained:
            return "time left unknown"
        pending = self.left + (self.running is not None)
        return f"about {_duration(self._spent / self._trained * pending)} left"

    def status(self) -> str:
        return (
            f"[{self.done} done, {1 if self.running else 0} running, {self.failed_count} failed, "
            f"{self.left} to go of {self.total}; {self.eta()}]"
        )

    def _print(self, text: str) -> None:
        if self.verbose:
            print(text, flush=True, file=sys.stdout)

    def skipped(self, name: str, accuracy: float) -> None:
        self.done += 1
        self.skipped_count += 1
        self._print(f"{name}: done before ({accuracy:.4f}) {self.status()}")

    def start(self, name: str) -> None:
        self.running = name
        self._t_start = time.perf_counter()
        self._print(f"{name}: running {self.status()}")

    def _end(self, one_time: float = 0.0) -> float:
        seconds = time.perf_counter() - self._t_start
        self.running = None
        # One-time costs (feature extraction, cached for every later run) are not a run's pace:
        # counting them made the first estimate several times too long.
        self._spent += max(0.0, seconds - one_time)
        self._trained += 1
        return seconds

    def finished(
        self, name: str, accuracy: float, *, resumed: bool = False, extract_seconds: float = 0.0
    ) -> None:
        seconds = self._end(extract_seconds)
        self.done += 1
        how = ", resumed" if resumed else ""
        self._print(f"{name}: test accuracy {accuracy:.4f} ({seconds:.1f} s{how}) {self.status()}")

    def failed(self, name: str, message: str) -> None:
        self._end()
        self.failed_count += 1
        self._print(f"{name}: FAILED: {message} {self.status()}")
