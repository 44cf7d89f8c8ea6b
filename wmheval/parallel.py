"""Running independent tasks in worker processes, in order, with an optional progress bar."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def parallel_map(function: Callable[[T], R], items: Sequence[T], jobs: int | None = None, *,
                 on_done: Callable[[R], None] | None = None,
                 initializer: Callable[[], None] | None = None) -> list[R]:
    """``[function(item) for item in items]`` in ``jobs`` worker processes (default: all cores).

    Results come back in input order; ``on_done`` is called after each. With one job (or
    one item) everything runs in this process, which keeps tracebacks and tests simple.
    """
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(items) or 1))
    results: list[R] = []
    if jobs == 1:
        mapped: Iterable[R] = map(function, items)
        executor = None
    else:
        executor = ProcessPoolExecutor(max_workers=jobs, initializer=initializer)
        mapped = executor.map(function, items, chunksize=1)
    try:
        for result in mapped:
            results.append(result)
            if on_done:
                on_done(result)
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)
    return results


def progress_columns() -> tuple:
    """The columns of every wmheval progress bar: description, bar, n/total, time left."""
    from rich.progress import BarColumn, MofNCompleteColumn, TimeRemainingColumn

    return ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
            TimeRemainingColumn())


@contextlib.contextmanager
def progress_bar(description: str, total: int, enabled: bool = True
                 ) -> Iterator[Callable[[object], None]]:
    """Yield a callback that advances a rich progress bar (a no-op when not ``enabled``)."""
    if not enabled:
        yield lambda _result: None
        return
    from rich.progress import Progress

    with Progress(*progress_columns(), transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda _result: progress.advance(task)
