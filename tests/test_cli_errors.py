"""The exit-code rule shared by every command (1 data problems or a failed run, 2 usage
and input errors) and `wmheval --version`."""

from __future__ import annotations

import pytest
import typer

from wmheval.cli.errors import UsageError, exit_code_for, fail


@pytest.mark.parametrize(("error", "code"), [
    (ValueError("bad weights"), 2), (FileNotFoundError("x.csv"), 2),
    (PermissionError("read-only"), 2), (UsageError("unknown team"), 2),
    (RuntimeError("out of memory"), 1), (KeyError("column"), 1),
])
def test_exit_code_for_separates_input_errors_from_failed_runs(error, code):
    assert exit_code_for(error) == code


def test_fail_prints_the_message_and_exits_with_the_rules_code(capsys):
    with pytest.raises(typer.Exit) as raised:
        fail(FileNotFoundError("scores/cases.csv not found"))
    assert raised.value.exit_code == 2
    assert capsys.readouterr().err == "error: scores/cases.csv not found\n"
    with pytest.raises(typer.Exit) as raised:
        fail("unknown teams ['nobody']")
    assert raised.value.exit_code == 2
    with pytest.raises(typer.Exit) as raised:
        fail(RuntimeError("killed"))
    assert raised.value.exit_code == 1


def test_fail_prints_undecodable_file_names_as_escapes(capsys):
    """Every command's error line goes through one printer: a non-UTF-8 file name (a lone
    surrogate in Python) becomes a \\xNN escape instead of an encoding crash."""
    with pytest.raises(typer.Exit) as raised:
        fail(FileNotFoundError(f"{chr(0xDCFF)}bad.csv: file not found"))
    assert raised.value.exit_code == 2
    assert capsys.readouterr().err == "error: \\xffbad.csv: file not found\n"


def test_the_baselines_missing_extra_is_a_usage_error():
    from wmheval.cli.baseline import BaselinesUnavailable

    assert exit_code_for(BaselinesUnavailable("torch is not installed")) == 2
    assert isinstance(BaselinesUnavailable("x"), RuntimeError)  # callers catching it still do


def test_version_prints_the_installed_version_and_exits_0():
    """`wmheval --version` (the brief asks for it; it was 'No such option')."""
    from importlib.metadata import PackageNotFoundError, version

    from typer.testing import CliRunner

    import wmheval
    from wmheval.cli.main import app

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output == f"wmheval {wmheval.__version__}\n"
    result = CliRunner().invoke(app, ["--version", "score"])  # eager: before any command
    assert result.exit_code == 0 and result.output.startswith("wmheval ")
    try:
        installed = version("wmheval")
    except PackageNotFoundError:
        pytest.skip("wmheval is not installed; nothing to compare with")
    assert installed == wmheval.__version__  # pyproject.toml and the package agree
