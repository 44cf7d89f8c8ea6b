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


# --- a worker killed mid-batch (issue 33 item 7) ---------------------------------------

def square_or_die(value: int) -> int:
    import signal

    if value == 3:
        os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer does
    return value * value


def test_a_killed_worker_loses_only_its_own_task():
    done = []
    results = parallel_map(square_or_die, list(range(8)), jobs=2, on_done=done.append,
                           on_crash=lambda item, why: ("crashed", item, why))
    assert results[:3] == [0, 1, 4] and results[4:] == [16, 25, 36, 49]
    assert results[3][:2] == ("crashed", 3) and "killed by SIGKILL" in results[3][2]
    assert done == results  # every result reported once, in order


def test_without_on_crash_a_killed_worker_is_an_error_not_a_broken_pool():
    import pytest

    from wmheval.parallel import WorkerCrashed

    with pytest.raises(WorkerCrashed, match="SIGKILL"):
        parallel_map(square_or_die, list(range(6)), jobs=2)


def test_score_keeps_the_other_cases_when_one_worker_is_killed(release_tree, tmp_path,
                                                               monkeypatch):
    import signal

    from test_scoring_folder import TEST_IDS, write_submission

    from wmheval.scoring import case as case_module
    from wmheval.scoring import score_folder

    submission = write_submission(tmp_path / "sub")
    fresh = score_folder(release_tree, submission, jobs=1, cache=None).cases.set_index("id")
    real = case_module.evaluate_files

    def dying(reference, prediction, *args, **kwargs):
        if prediction is not None and os.sep + "150" + os.sep in str(prediction):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(reference, prediction, *args, **kwargs)

    monkeypatch.setattr(case_module, "evaluate_files", dying)  # inherited by forked workers
    cases = score_folder(release_tree, submission, jobs=2, cache=None).cases.set_index("id")
    assert cases.loc["150", "status"] == "error"
    assert "killed by SIGKILL" in cases.loc["150", "error"]
    assert str(submission / "150" / "result.nii.gz") in cases.loc["150", "error"]
    others = [i for i in TEST_IDS if i != "150"]
    assert (cases.loc[others, "status"] == "ok").all()
    assert cases.loc[others, "dice"].tolist() == fresh.loc[others, "dice"].tolist()


def ignores_ctrl_c(_value: int) -> bool:
    import signal

    return signal.getsignal(signal.SIGINT) == signal.SIG_IGN


def test_workers_leave_ctrl_c_to_the_parent():
    """Ctrl-C reaches every process of the group: workers ignore it (no worker traceback);
    the parent stops them."""
    assert parallel_map(ignores_ctrl_c, list(range(4)), jobs=2) == [True] * 4
