"""A plain-text progress bar for management commands (stderr, redrawn in place, no dependency)."""

import sys
import time
from typing import TextIO


class ProgressBar:
    def __init__(self, total: int | None, *, label: str, stream: TextIO = sys.stderr, every_s: float = 0.2) -> None:
        self.total, self.label, self.stream, self.every_s = total, label, stream, every_s
        self.done = 0
        self.started = self._last = time.monotonic()

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            self._draw(now)

    def finish(self) -> None:
        self._draw(time.monotonic())
        self.stream.write("\n")
        self.stream.flush()

    def _draw(self, now: float) -> None:
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * 30)
            left = (self.total - self.done) / rate if rate else 0
            text = f"{self.label} [{bar:<30}] {self.done:,}/{self.total:,} {rate:,.0f}/s, {left:,.0f}s left"
        else:
            text = f"{self.label} {self.done:,} {rate:,.0f}/s"
        self.stream.write("\r" + text)
        self.stream.flush()
