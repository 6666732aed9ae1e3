"""Scripted failures of the collector: how the next ``POST`` requests are to be answered.

Tests of the tracker's retries script the collector (:meth:`EventCollector.fail`,
``drop_connections``, ``delay``, ``recover``); :class:`FaultSchedule` keeps that script and hands
each arriving request its :class:`Plan`. The statuses a tracker retries and how it reads
``Retry-After`` are documented in docs/collector-cors.md ("How the tracker reads your answer").
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime

__all__ = [
    "Failure",
    "FaultSchedule",
    "Plan",
    "check_seconds",
    "check_status",
    "check_times",
    "retry_after_value",
]


@dataclass(frozen=True)
class Failure:
    """A scripted failure: answer ``status``, or drop the connection without an answer."""

    status: int | None  # None: drop the connection without an answer
    retry_after: str | None = None  # the Retry-After header value, None: no header
    store: bool = False  # drop only: store valid events first (a lost answer)


@dataclass(frozen=True)
class Plan:
    """How one request is treated, decided when it arrives."""

    failure: Failure | None  # None: handled normally
    delay: float  # seconds to hold the request before handling it
    wake: threading.Event  # set by recover()/stop() to end the delay early


def check_status(name: str, status: object) -> int:
    """``status`` when it is an HTTP error status (an int 400-599); ``name`` is for the message.

    Raises ``ValueError`` otherwise (``True`` is not a status).
    """
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise ValueError(f"{name} must be an HTTP error status (400-599), got {status!r}")
    return status


def check_times(times: object) -> int | None:
    """``times`` when it is None (until recovered) or an int >= 1; else raises ``ValueError``."""
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise ValueError(f"times must be None (until recover()) or an int >= 1, got {times!r}")
    return times


def check_seconds(seconds: object) -> float:
    """``seconds`` as a float when it is a finite number >= 0; raises ``ValueError`` otherwise."""
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not math.isfinite(seconds)
        or seconds < 0
    ):
        raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
    return float(seconds)


def retry_after_value(retry_after: int | str | datetime | None) -> str | None:
    """The ``Retry-After`` header value for a scripted failure (RFC 9110 section 10.2.3).

    Input: seconds (int >= 0), a timezone-aware datetime (sent as an IMF-fixdate in GMT,
    RFC 9110 section 5.6.7), a printable string sent verbatim (garbage included, to test the
    client), or None. Output: the header value, None for no header. Raises ``ValueError`` for
    a naive datetime, a negative int, a non-printable string or another type.
    """
    if retry_after is None:
        return None
    if isinstance(retry_after, datetime):
        if retry_after.utcoffset() is None:
            raise ValueError(f"retry_after datetime must be timezone-aware, got {retry_after!r}")
        return format_datetime(retry_after.astimezone(timezone.utc), usegmt=True)
    if isinstance(retry_after, bool) or not isinstance(retry_after, (int, str)):
        raise ValueError(f"retry_after must be an int, str or datetime, got {retry_after!r}")
    if isinstance(retry_after, int):
        if retry_after < 0:
            raise ValueError(f"retry_after seconds must be >= 0, got {retry_after!r}")
        return str(retry_after)
    if not retry_after.isprintable():
        raise ValueError(f"retry_after must be printable header text, got {retry_after!r}")
    return retry_after


class FaultSchedule:
    """The scripted failure and delay, and how many requests each still applies to.

    Thread-safe: every request takes its :class:`Plan` with :meth:`take_plan` when it arrives
    (consuming one of ``times``), so concurrent requests each take one. ``times`` is None for
    "until :meth:`recover`" or a count >= 1 (checked by the caller with :func:`check_times`).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failure: Failure | None = None
        self._failure_left: int | None = None
        self._delay = 0.0
        self._delay_left: int | None = None
        self._wake = threading.Event()

    @property
    def failure(self) -> Failure | None:
        """The active failure, None when requests are answered normally."""
        with self._lock:
            return self._failure

    def set_failure(self, failure: Failure | None, times: int | None) -> None:
        """Apply ``failure`` to the next ``times`` requests (None: until recovered)."""
        with self._lock:
            self._failure, self._failure_left = failure, times

    def set_delay(self, seconds: float, times: int | None) -> None:
        """Hold the next ``times`` requests ``seconds`` each; ``seconds == 0`` ends the delay."""
        with self._lock:
            self._delay = seconds
            self._delay_left = times if seconds > 0 else None

    def recover(self) -> None:
        """No failure, no delay; requests held by a delay stop waiting."""
        with self._lock:
            self._failure = self._failure_left = None
            self._delay, self._delay_left = 0.0, None
            self._renew_wake()

    def wake_waiters(self) -> None:
        """End the delays of requests in flight (they go on as their plan says)."""
        with self._lock:
            self._renew_wake()

    def _renew_wake(self) -> None:
        # Waiters hold the old event: setting it ends their waits; later requests get a new one.
        self._wake.set()
        self._wake = threading.Event()

    def take_plan(self) -> Plan:
        """Decide how the arriving request is treated (consumes one of ``times``)."""
        with self._lock:
            failure, delay = self._failure, self._delay
            if failure is not None and self._failure_left is not None:
                self._failure_left -= 1
                if self._failure_left <= 0:
                    self._failure = self._failure_left = None
            if delay > 0 and self._delay_left is not None:
                self._delay_left -= 1
                if self._delay_left <= 0:
                    self._delay, self._delay_left = 0.0, None
            return Plan(failure, delay, self._wake)
