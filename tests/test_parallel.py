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


def test_disabled_progress_bar_is_a_no_op(monkeypatch, capfd):
    """Disabled (``--quiet``, not a terminal), no rich bar is even built and nothing is
    written, however often the callback is called."""
    import rich.progress

    def no_bar(*args, **kwargs):
        raise AssertionError("a disabled progress bar built a rich Progress")

    monkeypatch.setattr(rich.progress, "Progress", no_bar)
    with progress_bar("scoring cases", 3, enabled=False) as advance:
        for result in range(5):
            advance(result)
    assert capfd.readouterr() == ("", "")


def test_enabled_progress_bar_advances_its_task_once_per_result(monkeypatch):
    import rich.progress

    built = []

    class RecordingProgress(rich.progress.Progress):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)

    monkeypatch.setattr(rich.progress, "Progress", RecordingProgress)
    with progress_bar("scoring cases", 3) as advance:
        for result in range(3):
            advance(result)
        (progress,) = built
        (task,) = progress.tasks
        assert (task.description, task.total, task.completed) == ("scoring cases", 3, 3)
