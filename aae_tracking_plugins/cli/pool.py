"""Run a task over many pages: in worker processes for large sites, with a progress display."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import TextIO, TypeVar

from aae_tracking_plugins.cli.output import warn

#: Below this many pages a process pool costs more to start than it saves.
PARALLEL_THRESHOLD = 64
#: Seconds between progress lines when stderr is not a terminal (CI logs).
PROGRESS_INTERVAL = 5.0
#: Seconds between redraws of the progress line on a terminal.
TTY_REFRESH = 0.1

T = TypeVar("T")
C = TypeVar("C")


class Progress:
    """``[  12/5000] pages`` on stderr: redrawn in place on a terminal, else every few seconds."""

    def __init__(self, total: int, *, enabled: bool, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and total > 0
        try:
            self.tty = self.enabled and self.stream.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        self.last = time.monotonic()
        self.width = 0  # characters of the progress line currently on the terminal

    def _text(self, done: int) -> str:
        return f"[ {done:>{len(str(self.total))}}/{self.total}] pages"

    def update(self, done: int) -> None:
        """Show that ``done`` pages of :attr:`total` are finished (if it is time to redraw)."""
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty:
            if now - self.last >= TTY_REFRESH or (done >= self.total and self.width):
                text = self._text(done)
                self.stream.write("\r" + text.ljust(self.width))
                self.stream.flush()
                self.width, self.last = len(text), now
        elif done < self.total and now - self.last >= PROGRESS_INTERVAL:
            self.stream.write(self._text(done) + "\n")
            self.stream.flush()
            self.last = now

    def finish(self) -> None:
        """Remove the progress line, so that what follows starts on a clean line."""
        if self.tty and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


def _chunks(items: list[str], workers: int) -> list[list[str]]:
    size = max(1, min(64, len(items) // (workers * 8)))
    return [items[start : start + size] for start in range(0, len(items), size)]


def process_pages(
    task: Callable[[str, list[str], C], list[T]],
    root: str,
    pages: list[str],
    context: C,
    *,
    jobs: int,
    progress: Progress,
) -> list[T]:
    """``task(root, some_pages, context)`` over all pages; in worker processes for large sites.

    ``task`` is a module-level function and ``context`` plain data, so both pickle to workers.
    If the worker processes cannot be started (or die), the remaining pages run in this process.
    """
    results: list[T] = []
    remaining: list[list[str]] = [[page] for page in pages]
    if jobs > 1 and len(pages) > PARALLEL_THRESHOLD:
        chunks = _chunks(pages, jobs)
        done = _run_in_pool(task, root, chunks, context, min(jobs, len(chunks)), progress, results)
        remaining = [chunk for index, chunk in enumerate(chunks) if index not in done]
    for chunk in remaining:
        results.extend(task(root, chunk, context))
        progress.update(len(results))
    progress.finish()
    return results


def _worker_started() -> None:
    """Ctrl-C is for the main process: it stops handing out pages and reports the interruption.

    Workers finish the pages they have (each write is atomic) instead of printing tracebacks.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_in_pool(
    task: Callable[[str, list[str], C], list[T]],
    root: str,
    chunks: list[list[str]],
    context: C,
    workers: int,
    progress: Progress,
    results: list[T],
) -> set[int]:
    """Run the chunks in a process pool; return the indexes of the chunks that finished."""
    done: set[int] = set()
    try:
        pool = ProcessPoolExecutor(max_workers=workers, initializer=_worker_started)
    except (OSError, ImportError, NotImplementedError) as exc:
        warn(f"cannot start worker processes ({exc}); continuing in one process")
        return done
    try:
        futures: dict[Future[list[T]], int] = {
            pool.submit(task, root, chunk, context): index for index, chunk in enumerate(chunks)
        }
        for future in as_completed(futures):
            results.extend(future.result())
            done.add(futures[future])
            progress.update(len(results))
    except BrokenProcessPool as exc:
        warn(f"a worker process died ({exc or 'no reason given'}); continuing in one process")
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True, cancel_futures=True)
    return done
