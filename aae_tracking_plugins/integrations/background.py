"""Confirm speculatively placed pages on worker threads while the generator renders the next.

The engine's cost is one HTML5 parse per page (docs/engine.md), and Lexbor parses without
holding the GIL. So an integration hands each page on with the tags at their first spots
(:func:`~aae_tracking_plugins.core.engine.inject.speculate`) and lets a worker thread run the
parse that confirms them (:meth:`~aae_tracking_plugins.core.engine.inject.Speculation.settle`);
at the end of the build it rewrites the rare page whose first spots were not confirmed.
Generator-neutral: the integration says what to do with each result.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from aae_tracking_plugins.core.cpus import cpu_count
from aae_tracking_plugins.core.engine.inject import InjectionResult, Snippet, Speculation

__all__ = ["BackgroundSettler", "Unconfirmed", "worker_threads"]

#: Worker threads at most: one parse per page is quick, and the generator itself is one thread.
MAX_WORKERS = 4


def worker_threads() -> int:
    """Worker threads worth starting here: ``0`` on a single CPU (nothing runs beside the
    generator, so the parse is done in line), else one less than the CPUs, at most
    :data:`MAX_WORKERS`."""
    return min(MAX_WORKERS, cpu_count() - 1)


@dataclass(frozen=True)
class Unconfirmed:
    """A page whose first spots the parse did not confirm.

    ``written`` is the speculative page the generator wrote at ``path``; ``result`` is what
    :func:`~aae_tracking_plugins.core.engine.inject.inject` gives for the page (another spot,
    or the page as it was, with the reason).
    """

    where: str
    path: str
    written: str
    result: InjectionResult
    #: The tags placed, for a page that changed since it was written.
    snippet: Snippet


def _settle(speculation: Speculation) -> InjectionResult | None:
    """``None`` when the first spots are confirmed (nothing to keep), else the settled result."""
    result = speculation.settle()
    return None if result.html is speculation.output else result


class BackgroundSettler:
    """Settles :class:`Speculation` pages on ``workers`` threads, in submission order.

    Only the pages whose first spots were not confirmed are kept (with their strings); a
    confirmed page is forgotten as soon as its parse ends. At most ``backlog`` pages wait for
    a parse: :meth:`submit` waits for the oldest one beyond that, so memory stays bounded
    however far the generator runs ahead.
    """

    def __init__(self, workers: int, backlog: int | None = None) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aae-tracking")
        self._backlog = backlog if backlog is not None else 8 * workers
        self._pending: deque[tuple[str, str, Speculation, Future[InjectionResult | None]]] = deque()
        self._unconfirmed: list[Unconfirmed] = []

    def submit(self, where: str, path: str, speculation: Speculation) -> None:
        """Queue the parse of ``speculation`` for the page ``where`` written at ``path``."""
        self._pending.append((where, path, speculation, self._pool.submit(_settle, speculation)))
        self._collect(wait_beyond=self._backlog)

    def _collect(self, wait_beyond: int) -> None:
        """Take finished parses off the front; wait while more than ``wait_beyond`` remain."""
        while self._pending and (len(self._pending) > wait_beyond or self._pending[0][3].done()):
            where, path, speculation, future = self._pending.popleft()
            result = future.result()
            if result is not None:
                self._unconfirmed.append(
                    Unconfirmed(where, path, speculation.output, result, speculation.snippet)
                )

    def settle(self) -> Iterator[Unconfirmed]:
        """Wait for every queued parse and yield the unconfirmed pages, in submission order.

        Raises:
            Whatever a parse raised (the engine raises nothing of its own for any page).
        """
        try:
            self._collect(wait_beyond=0)
        finally:
            self.close()
        unconfirmed, self._unconfirmed = self._unconfirmed, []
        yield from unconfirmed

    def close(self) -> None:
        """Stop the worker threads; pages not parsed yet are dropped (a failed build)."""
        self._pending.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
