"""Progress lines for long bulk work: counts, rate and ETA, at most once per interval."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any


class ProgressLogger:
    """
    Logs ``done/total``, the rate and the ETA of a bulk job every ``interval`` seconds, and once at the end.

    Thread-safe: worker threads call :meth:`advance`.

    :param log: the logger to write to.
    :param what: what is counted, e.g. ``"records"``.
    :param total: how many there are, when known.
    :param interval: seconds between two progress lines.
    :param clock: monotonic clock (tests pass a fake one).
    """

    def __init__(
        self,
        log: logging.Logger | Any,
        what: str,
        total: int | None = None,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self.what = what
        self.total = total
        self.interval = interval
        self._clock = clock
        self.started = clock()
        self._last_line = self.started
        self.done = 0
        self.failed = 0
        self._lock = threading.Lock()

    def advance(self, count: int = 1, failed: int = 0) -> None:
        """Count finished items (``failed`` of them failed) and log a line when the interval has passed."""
        with self._lock:
            self.done += count
            self.failed += failed
            now = self._clock()
            if now - self._last_line < self.interval:
                return
            self._last_line = now
            line = self.line(now)
        self._log.info("%s", line)

    def line(self, now: float | None = None) -> str:
        """The progress line as it stands."""
        now = self._clock() if now is None else now
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        done = f"{self.done}/{self.total}" if self.total is not None else str(self.done)
        text = f"{done} {self.what} ({self.failed} failed), {rate:.1f}/s"
        if self.total is not None and rate > 0:
            text += f", ETA {max(self.total - self.done, 0) / rate:.0f}s"
        return text

    def finish(self) -> None:
        """Log the final line."""
        self._log.info("finished: %s in %.1fs", self.line(), self._clock() - self.started)
