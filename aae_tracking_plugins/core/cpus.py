"""How many CPUs this process may use: the CLI's worker processes and the integrations' worker
threads are sized by it."""

from __future__ import annotations

import os


def cpu_count() -> int:
    """The CPUs this process may use (its affinity in containers and under taskset), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1
