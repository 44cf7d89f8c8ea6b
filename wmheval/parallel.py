"""Running independent tasks in worker processes, in order, with an optional progress bar."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

from wmheval.errors import WmhevalError

T = TypeVar("T")
R = TypeVar("R")
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Make this worker process end when ``parent_pid`` dies, even by SIGKILL.

    On Linux the kernel sends SIGKILL on the parent's death (``prctl(PR_SET_PDEATHSIG)``);
    everywhere a daemon thread also checks once a second that the parent is still there
    (it would be re-parented), which covers the race of a parent dying before the prctl.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(1)
            time.sleep(1.0)

    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=watch, name="wmheval-parent-watch", daemon=True).start()


def keep_freed_memory() -> None:
    """Let this worker reuse freed memory instead of returning it to the system (Linux).

    glibc hands large arrays (a few MB each, as every case allocates) back to the kernel on
    every free, so the next case faults the same pages in again; Dask workers also set a low
    trim threshold. Fixed thresholds of 1 GiB keep a worker's peak (a few hundred MB) mapped:
    measured 1.5-1.8x less CPU per case on Dask workers.
    """
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None)
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 1 << 30)
        libc.mallopt(m_trim_threshold, 1 << 30)


def _init_worker(parent_pid: int, initializer: Callable[[], None] | None) -> None:
    # Ctrl-C reaches the whole process group: the parent handles it (and ends the workers),
    # so a worker never prints a KeyboardInterrupt traceback of its own.
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent_pid)
    if initializer is not None:
        initializer()


class WorkerCrashed(WmhevalError, RuntimeError):
    """A worker process died (killed by a signal, e.g. by the out-of-memory killer) and no
    ``on_crash`` was given to turn its task into a result (exit 1: the run failed)."""

    exit_code = 1


def death_reason(exitcode: int | None) -> str:
    """How a worker process ended, in words (``killed by SIGKILL``: the out-of-memory
    killer sends it)."""
    if exitcode is None:
        return "it did not finish"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        oom = " (as the out-of-memory killer does)" if -exitcode == signal.SIGKILL else ""
        return f"the worker process was killed by {name}{oom}"
    return f"the worker process exited with status {exitcode}"


_PENDING = object()


def parallel_map(function: Callable[[T], R], items: Sequence[T], jobs: int | None = None, *,
                 on_done: Callable[[R], None] | None = None,
                 initializer: Callable[[], None] | None = None,
                 on_crash: Callable[[T, str], R] | None = None) -> list[R]:
    """``[function(item) for item in items]`` in ``jobs`` worker processes (default: all cores).

    Results come back in input order; ``on_done`` is called after each, in order. With one
    job (or one item) everything runs in this process, which keeps tracebacks and tests
    simple. Workers end with this process, even when it is killed (:func:`die_with_parent`),
    and ignore Ctrl-C (this process ends them).

    A worker that dies (a signal, e.g. the out-of-memory killer) breaks the pool: the tasks
    finished are kept, the others run again, each in a process of its own, so that only
    the task whose process dies again is lost; ``on_crash(item, reason)`` makes its result
    (without it, :class:`WorkerCrashed`).
    """
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(items) or 1))
    if jobs == 1:
        results: list[R] = []
        for result in map(function, items):
            results.append(result)
            if on_done:
                on_done(result)
        return results
    slots: list = [_PENDING] * len(items)
    reported = 0

    def report() -> None:
        nonlocal reported
        while reported < len(slots) and slots[reported] is not _PENDING:
            if on_done:
                on_done(slots[reported])
            reported += 1

    pending = _run_pool(function, items, slots, jobs, initializer, report)
    if pending:
        _run_isolated(function, items, pending, slots, jobs, initializer, on_crash, report)
    return slots


def _run_pool(function, items, slots, jobs, initializer, report) -> list[int]:
    """Run every item in one pool; return the indices left when a worker died."""
    from concurrent.futures.process import BrokenProcessPool

    executor = ProcessPoolExecutor(
        max_workers=jobs, initializer=functools.partial(_init_worker, os.getpid(),
                                                        initializer))
    broken = False
    try:
        futures = [executor.submit(function, item) for item in items]
        for index, future in enumerate(futures):
            try:
                slots[index] = future.result()
            except BrokenProcessPool:
                broken = True
                break
            report()
        if not broken:
            return []
        for index, future in enumerate(futures):
            if slots[index] is _PENDING and future.done() and not future.cancelled() and \
                    future.exception() is None:
                slots[index] = future.result()
        report()
        return [k for k, value in enumerate(slots) if value is _PENDING]
    except BaseException:
        _end_workers(executor)
        raise
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _end_workers(executor: ProcessPoolExecutor) -> None:
    """Stop the workers now (Ctrl-C, an error): they would finish their task first."""
    for process in list(getattr(executor, "_processes", {}).values()):
        with contextlib.suppress(OSError, AttributeError):
            process.terminate()


def _isolated_child(connection, function, item, parent_pid, initializer) -> None:
    _init_worker(parent_pid, initializer)
    try:
        result = ("ok", function(item))
    except BaseException as error:  # noqa: BLE001 - sent to the parent, raised there
        result = ("error", error)
    try:
        connection.send(result)
    except Exception as error:  # noqa: BLE001 - e.g. an unpicklable result
        connection.send(("error", RuntimeError(f"cannot return the result: {error}")))
    connection.close()


def _run_isolated(function, items, pending, slots, jobs, initializer, on_crash, report):
    """Run the ``pending`` items, each in a process of its own, ``jobs`` at a time."""
    import multiprocessing

    context = multiprocessing.get_context()
    queue = list(pending)
    running: list[tuple[int, object, object]] = []
    try:
        while queue or running:
            while queue and len(running) < jobs:
                index = queue.pop(0)
                receiver, sender = context.Pipe(duplex=False)
                process = context.Process(target=_isolated_child, daemon=True, args=(
                    sender, function, items[index], os.getpid(), initializer))
                process.start()
                sender.close()
                running.append((index, process, receiver))
            index, process, receiver = running.pop(0)
            message = None
            with contextlib.suppress(EOFError):
                message = receiver.recv()
            process.join()
            receiver.close()
            if message is None:
                reason = death_reason(process.exitcode)
                if on_crash is None:
                    raise WorkerCrashed(f"{reason} while working on item {index}")
                slots[index] = on_crash(items[index], reason)
            elif message[0] == "error":
                raise message[1]
            else:
                slots[index] = message[1]
            report()
    except BaseException:
        for _, process, _ in running:
            with contextlib.suppress(OSError):
                process.terminate()
        raise


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
