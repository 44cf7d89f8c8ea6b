"""The exit-code rule shared by every command (1 data problems or a failed run, 2 usage
and input errors) and `wmheval --version`."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
import typer

from wmheval.cli.errors import UsageError, exit_code_for, fail, reported_errors
from wmheval.errors import DataProblem, InputError, WmhevalError
from wmheval.io.outputs import OutputSetError
from wmheval.synth.template import TemplateError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("error", "code"), [
    (ValueError("bad weights"), 2), (FileNotFoundError("x.csv"), 2),
    (PermissionError("read-only"), 2), (UsageError("unknown team"), 2),
    (RuntimeError("out of memory"), 1), (KeyError("column"), 1),
    (InputError("bad input"), 2), (DataProblem("rejected"), 1),
    (OutputSetError("out", "read-only folder"), 2), (TemplateError("no template"), 1),
])
def test_exit_code_for_separates_input_errors_from_failed_runs(error, code):
    assert exit_code_for(error) == code


def test_a_wmheval_error_brings_its_own_exit_code():
    """The code comes from the class, not from what else it derives from: a DataProblem
    that is also a ValueError still exits 1."""

    class RejectedTable(DataProblem, ValueError):
        pass

    assert exit_code_for(RejectedTable("3 rows rejected")) == 1


def _deliberate_error_classes() -> list[tuple[str, str]]:
    """(module, class) of every public class in wmheval/ and baselines/ whose name ends in
    Error or that derives from an exception class (read from the source, so a new one is
    found without being listed here)."""
    found = []
    for package_root, base in ((ROOT, "wmheval"), (ROOT / "baselines", "wmheval_baselines")):
        for path in sorted((package_root / base).rglob("*.py")):
            module = ".".join(path.relative_to(package_root).with_suffix("").parts)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.ClassDef) or node.name.startswith("_"):
                    continue
                bases = [ast.unparse(b) for b in node.bases]
                if node.name.endswith("Error") or any(
                        b.endswith(("Error", "Exception", "Problem")) for b in bases):
                    found.append((module, node.name))
    return found


def test_every_deliberate_error_class_is_a_wmheval_error():
    classes = _deliberate_error_classes()
    assert ("wmheval.io.images", "ImageError") in classes  # the scan finds them
    assert len(classes) >= 15
    for module, name in classes:
        error_class = getattr(importlib.import_module(module), name)
        assert issubclass(error_class, WmhevalError), f"{module}.{name}"


@pytest.mark.parametrize(("module", "name", "ancestor"), [
    ("wmheval.io.images", "ImageError", ValueError),
    ("wmheval.io.outputs", "OutputSetError", OSError),
    ("wmheval.synth.template", "TemplateError", RuntimeError),
    ("wmheval.metrics.binarize", "BinarizationError", ValueError),
    ("wmheval.distributed", "SchedulerError", ValueError),
])
def test_error_classes_keep_the_ancestry_callers_catch(module, name, ancestor):
    assert issubclass(getattr(importlib.import_module(module), name), ancestor)


def test_reported_errors_prints_one_line_and_exits_with_the_class_code(capsys):
    with pytest.raises(typer.Exit) as raised, reported_errors():
        raise DataProblem("team-a: 2 of 3 cases failed")
    assert raised.value.exit_code == 1
    assert capsys.readouterr().err == "error: team-a: 2 of 3 cases failed\n"
    with pytest.raises(typer.Exit) as raised, reported_errors():
        raise InputError("no such column 'dice'")
    assert raised.value.exit_code == 2
    with pytest.raises(KeyError), reported_errors():  # a bug stays a traceback
        raise KeyError("bug")


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
