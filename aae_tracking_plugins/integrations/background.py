"""Confirm speculatively placed pages on worker threads while the generator renders the next.

The engine's cost is one HTML5 parse per page (docs/engine.md), and Lexbor parses without
holding the GIL. So an integration hands each page on with the tags at their first spots
(:func:`~aae_tracking_plugins.core.engine.inject.speculate`) and lets a worker thread run the
parse that confirms them (:meth:`~aae_tracking_plugins.core.engine.inject.Speculation.settle`);
the rare page whose first spots were not confirmed is rewritten (:func:`rewrite`) as soon as
its parse has ended and the generator has written it.
Generator-neutral: the integration says what to do with each result.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from aae_tracking_plugins.core.cpus import cpu_count
from aae_tracking_plugins.core.engine.inject import (
    InjectionResult,
    Snippet,
    Speculation,
    inject_bytes,
)

__all__ = ["BackgroundSettler", "Unconfirmed", "rewrite", "worker_threads"]

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

    ``written`` is the speculative page handed to the generator for ``path``; ``result`` is
    what :func:`~aae_tracking_plugins.core.engine.inject.inject` gives for the page (another
    spot, or the page as it was, with the reason).
    """

    where: str
    path: str
    written: str
    result: InjectionResult
    #: The tags placed, for a page that changed since it was written.
    snippet: Snippet


def rewrite(page: Unconfirmed, errors: str = "strict") -> str | None:
    """Replace the speculative page on disk with the settled one; the reason it is left
    untracked, if it is (``None``: tracked, or not ours to touch).

    Args:
        page: an unconfirmed page, already written by the generator.
        errors: the codec error handler the generator encodes pages with (MkDocs:
            ``"xmlcharrefreplace"``), so the bytes compared are the bytes it wrote.

    The file holds what the generator wrote: it gets ``page.result``. It was changed since (a
    plugin running after ours): our two speculative insertions are taken out again when each is
    there exactly once, and the engine places the tags in what is left (or leaves that alone,
    with the reason). A file without our insertions is not this page: it is not touched.

    Raises:
        OSError: the file cannot be written (a missing file is no error: it is skipped).
    """
    path = Path(page.path)
    try:
        current = path.read_bytes()
    except FileNotFoundError:
        return None
    if current == page.written.encode("utf-8", errors):
        path.write_bytes(page.result.html.encode("utf-8", errors))
        return page.result.skipped_reason if page.result.worth_a_warning else None
    head = page.snippet.head.encode("utf-8", errors)
    body = page.snippet.body.encode("utf-8", errors)
    if current.count(head) != 1 or current.count(body) != 1:
        return None
    again = inject_bytes(current.replace(head, b"", 1).replace(body, b"", 1), page.snippet)
    path.write_bytes(again.data)
    return again.skipped_reason if again.worth_a_warning else None


def _settle(speculation: Speculation) -> InjectionResult | None:
    """``None`` when the first spots are confirmed (nothing to keep), else the settled result."""
    result = speculation.settle()
    return None if result.html is speculation.output else result


class BackgroundSettler:
    """Settles :class:`Speculation` pages on ``workers`` threads, in submission order.

    A confirmed page is forgotten as soon as its parse ends; an unconfirmed one is handed to
    ``handle`` (in the thread that calls :meth:`submit` or :meth:`settle`) once the generator
    has written it: at the next :meth:`submit` (the generator writes a page before it renders
    the next one) or at :meth:`settle`. At most ``backlog`` pages wait for a parse: :meth:`submit`
    waits for the oldest one beyond that. So memory stays bounded however far the generator runs
    ahead and however many first spots are wrong.
    """

    def __init__(
        self, workers: int, handle: Callable[[Unconfirmed], None], backlog: int | None = None
    ) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aae-tracking")
        self._handle = handle
        self._backlog = backlog if backlog is not None else 8 * workers
        self._pending: deque[tuple[str, str, Speculation, Future[InjectionResult | None]]] = deque()

    def submit(self, where: str, path: str, speculation: Speculation) -> None:
        """Queue the parse of ``speculation`` for the page ``where``, to be written at ``path``.

        Raises:
            Whatever ``handle`` raises for an earlier page.
        """
        # Every page queued before this one has been written by now.
        self._collect(wait_beyond=self._backlog)
        self._pending.append((where, path, speculation, self._pool.submit(_settle, speculation)))

    def _collect(self, wait_beyond: int) -> None:
        """Take finished parses off the front; wait while more than ``wait_beyond`` remain."""
        while self._pending and (len(self._pending) > wait_beyond or self._pending[0][3].done()):
            where, path, speculation, future = self._pending.popleft()
            result = future.result()
            if result is not None:
                output, snippet = speculation.output, speculation.snippet
                self._handle(Unconfirmed(where, path, output, result, snippet))

    def settle(self) -> None:
        """Wait for every queued parse, hand each unconfirmed page to ``handle``, then stop the
        threads. Call it once every queued page is written.

        Raises:
            Whatever a parse or ``handle`` raised (the engine raises nothing of its own).
        """
        try:
            self._collect(wait_beyond=0)
        finally:
            self.close()

    def close(self) -> None:
        """Stop the worker threads; pages not parsed yet are dropped (a failed build)."""
        self._pending.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
