"""parallel_map: results in input order, callbacks, worker processes."""

from __future__ import annotations

import os

from wmheval.parallel import parallel_map, progress_bar


def square_and_pid(value: int) -> tuple[int, int]:
    return value * value, os.getpid()


def test_results_keep_the_input_order_in_worker_processes():
    done = []
    results = parallel_map(square_and_pid, list(range(12)), jobs=2, on_done=done.append)
    assert [r[0] for r in results] == [v * v for v in range(12)]
    assert done == results
    assert os.getpid() not in {pid for _, pid in results}


def test_one_job_runs_in_this_process():
    results = parallel_map(square_and_pid, [3], jobs=4)
    assert results == [(9, os.getpid())]


def test_disabled_progress_bar_is_a_no_op():
    with progress_bar("x", 3, enabled=False) as advance:
        assert advance(None) is None
