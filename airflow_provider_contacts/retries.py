"""
The one retry policy of every request the provider sends: the API's through the transport, and the token
endpoints' (``auth``): how many tries, how long between them, what is logged.
"""

from __future__ import annotations

import logging
import random
from typing import Any

import tenacity

log = logging.getLogger(__name__)


class Retry(Exception):
    """
    An attempt failed in a way worth another try; ``final`` is raised when the tries run out.

    :param final: the error to raise if no try is left.
    :param wait: seconds to wait first; None: the backoff decides.
    :param refresh: refresh the access token first (a 401).
    :param pause: pause every request of the budget this long first (a 429's ``Retry-After``).
    """

    def __init__(
        self,
        final: Exception,
        wait: float | None = None,
        refresh: bool = False,
        pause: float | None = None,
    ) -> None:
        super().__init__(str(final))
        self.final = final
        self.wait = wait
        self.refresh = refresh
        self.pause = pause


def backoff(base: float, cap: float, attempt: int, error: BaseException | None) -> float:
    """
    The wait before try ``attempt + 1``: what the answer asked for, else exponential with full jitter.

    :param base: the first try's ceiling, in seconds.
    :param cap: the largest ceiling.
    :param attempt: the number of the try that failed (1 for the first).
    :param error: what it raised.
    """
    if isinstance(error, Retry) and error.wait is not None:
        return error.wait
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return random.uniform(0, ceiling)  # "full jitter": spreads the retries of many workers


def retry_policy(*, retries: int, base: float, cap: float, what: str = "request") -> dict[str, Any]:
    """
    Tenacity's arguments: retry a :class:`Retry` up to ``retries`` times with :func:`backoff`, logging each.

    The last :class:`Retry` is raised when the tries run out (its ``final`` is the caller's error).

    :param retries: tries after the first.
    :param base: the backoff's first ceiling, in seconds.
    :param cap: the backoff's largest ceiling.
    :param what: what is retried, for the log line.
    """

    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return backoff(base, cap, state.attempt_number, error)

    def before_sleep(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "Retrying the %s (attempt %d of %d) after: %s", what, state.attempt_number + 1, retries + 1, error
        )

    return {
        "stop": tenacity.stop_after_attempt(retries + 1),
        "wait": wait,
        "retry": tenacity.retry_if_exception_type(Retry),
        "before_sleep": before_sleep,
        "reraise": True,
    }


__all__ = ["Retry", "backoff", "retry_policy"]
