"""Running independent tasks on a Dask distributed cluster, in order, like ``parallel_map``.

Optional: needs ``pip install "wmheval[distributed]"``. The workers must see the files at
the same paths as this process (a shared file system). Results are the same as with the
local pool: each task runs the same function on the same inputs.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from wmheval.errors import InputError

T = TypeVar("T")
R = TypeVar("R")


CONNECT_TIMEOUT = "10s"
"""How long to wait for a remote scheduler before giving up."""


class SchedulerError(InputError):
    """The Dask scheduler cannot be used (not installed, unreachable, bad address)."""


@contextlib.contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """SIGINT blocked while the block runs, then delivered. Threads and processes started
    meanwhile (Dask's event loop, its nannies and workers) inherit the blocked mask, so a
    Ctrl-C reaches this process only, which closes the cluster quietly."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _quiet_close(client, cluster) -> None:
    """Close after Ctrl-C without Dask's shutdown logging and tracebacks."""
    import logging

    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    with _ctrl_c_deferred(), contextlib.suppress(Exception):
        client.close(timeout=5)
        if cluster is not None:
            cluster.close(timeout=5)


def _client(scheduler: str, jobs: int | None, processes: bool):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise SchedulerError('--scheduler needs Dask: pip install "wmheval[distributed]"'
                             ) from None
    if scheduler == "local":
        workers = max(1, jobs or os.cpu_count() or 1)
        with _ctrl_c_deferred():
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                   processes=processes, dashboard_address=None)
        return Client(cluster), cluster
    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT), None
    except (OSError, TimeoutError, ValueError) as error:
        raise SchedulerError(f"cannot connect to the Dask scheduler {scheduler!r} ({error})"
                             ) from None


def dask_map(function: Callable[[T], R], items: Sequence[T], scheduler: str, *,
             jobs: int | None = None, on_done: Callable[[R], None] | None = None,
             initializer: Callable[[], None] | None = None, processes: bool = True) -> list[R]:
    """``[function(item) for item in items]`` on a Dask cluster, results in input order.

    ``scheduler`` is ``"local"`` (a local cluster of ``jobs`` single-threaded worker
    processes, default all cores, closed afterwards) or the address of a running scheduler
    (e.g. ``tcp://10.0.0.5:8786``). ``on_done`` is called as each result arrives;
    ``initializer`` runs once on every worker.
    """
    from dask.distributed import as_completed

    client, cluster = _client(scheduler, jobs, processes)
    interrupted = False
    try:
        if initializer is not None:
            client.run(initializer)
        futures = client.map(function, list(items), pure=False)
        position = {future.key: index for index, future in enumerate(futures)}
        results: list = [None] * len(futures)
        for future in as_completed(futures):
            result = future.result()
            results[position[future.key]] = result
            if on_done:
                on_done(result)
        return results
    except KeyboardInterrupt:
        interrupted = True
        _quiet_close(client, cluster)
        raise
    finally:
        if not interrupted:
            client.close()
            if cluster is not None:
                cluster.close()
