"""Running independent tasks on a Dask distributed cluster, in order, like ``parallel_map``.

Optional: needs ``pip install "wmheval[distributed]"``. The workers must see the files at
the same paths as this process (a shared file system). Results are the same as with the
local pool: each task runs the same function on the same inputs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TypeVar

from wmheval.errors import InputError

T = TypeVar("T")
R = TypeVar("R")


CONNECT_TIMEOUT = "10s"
"""How long to wait for a remote scheduler before giving up."""


class SchedulerError(InputError):
    """The Dask scheduler cannot be used (not installed, unreachable, bad address)."""


def _client(scheduler: str, jobs: int | None, processes: bool):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise SchedulerError('--scheduler needs Dask: pip install "wmheval[distributed]"'
                             ) from None
    if scheduler == "local":
        workers = max(1, jobs or os.cpu_count() or 1)
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes,
                               dashboard_address=None)
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
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
