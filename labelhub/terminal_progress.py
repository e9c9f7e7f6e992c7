"""A progress line for long commands: rows done, rate and time left, on a terminal only."""

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

T = TypeVar("T")


class Progress:
    """Counts rows and redraws one status line at most a few times a second.

    Nothing is written unless `stream` is a terminal, so pipes, files and CI logs stay clean.
    """

    def __init__(
        self,
        label: str,
        total: int | None = None,
        stream: TextIO | None = None,
        interval: float = 0.25,
        force: bool = False,
    ) -> None:
        self.label, self.total, self.interval = label, total, interval
        self.stream = stream or sys.stderr
        self.enabled = force or self.stream.isatty()
        self.done = 0
        self.started = self.last = time.monotonic()

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        text = f"{self.label}: {self.done:,}"
        if self.total:
            text += f"/{self.total:,} rows ({100 * self.done / self.total:.0f}%)"
        else:
            text += " rows"
        text += f" · {rate:,.0f} rows/s"
        if self.total and rate > 0 and self.done < self.total:
            text += f" · ETA {(self.total - self.done) / rate:.0f}s"
        return text

    def advance(self, rows: int = 1) -> None:
        self.done += rows
        if not self.enabled:  # the usual case in scripts and pipes: no clock read per row
            return
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            self.stream.write("\r" + self.line() + "\033[K")
            self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self.stream.write("\r" + self.line() + "\033[K\n")
            self.stream.flush()

    def abandon(self) -> None:
        """Erase the line: the work failed, and what follows says why."""
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def track(self, rows: Iterable[T]) -> Iterator[T]:
        for row in rows:
            yield row
            self.advance()
        self.finish()
