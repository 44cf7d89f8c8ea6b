"""The layer order of docs/architecture.md, read from the code: every import of every module
under wmheval/ (module level and inside functions, parsed with ``ast``) points down.

metrics -> io -> scoring (and synth) -> ranking -> analysis -> plots -> report -> pipelines
-> cli, on a base of small shared modules (errors, vocabulary, _resources, parallel,
distributed) that import nothing of wmheval's layers. Nothing under wmheval/ imports the
applications on top (``wmheval_baselines`` from baselines/, the board from leaderboard/)
except the one documented plug-in point, :mod:`wmheval.pipelines.baselines`; and only the
pipelines open an output set.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "wmheval"

BASE = ("wmheval", "wmheval.errors", "wmheval.vocabulary", "wmheval._resources",
        "wmheval.parallel", "wmheval.distributed")
"""Modules every layer may import; they import only each other."""

LAYERS = ("metrics", "io", ("scoring", "synth"), "ranking", "analysis", "plots", "report",
          "pipelines", "cli")
"""Bottom to top; a tuple is one level of packages that must not import each other."""

PLUG_IN = {"wmheval.pipelines.baselines"}
"""The documented modules that may import the applications (lazily)."""

OUTPUT_SET_OWNERS = ("wmheval.pipelines", "wmheval.io.outputs")
"""Where ``output_set`` may be used: the pipelines, and its own module."""


def _level(module: str) -> tuple[int, str] | None:
    """(level, package) of a wmheval module; None for the base."""
    if module in BASE:
        return None
    parts = module.split(".")
    if parts[0] != "wmheval" or len(parts) < 2:
        return None
    for level, names in enumerate(LAYERS, start=1):
        if parts[1] in ((names,) if isinstance(names, str) else names):
            return level, parts[1]
    raise AssertionError(f"{module}: not in any layer; add it to docs/architecture.md and "
                         "to LAYERS or BASE here")


def _module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, nested ones included."""
    return _imports_of_text(path.read_text(encoding="utf-8"), _module_name(path),
                            path.name == "__init__.py")


def _imports_of_text(text: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    package = module.split(".") if is_package else module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                imported = ".".join(base + ([node.module] if node.module else []))
            else:
                imported = node.module or ""
            found.append((node.lineno, imported))
            # ``from wmheval.x import y`` may import the submodule y.
            found += [(node.lineno, f"{imported}.{alias.name}") for alias in node.names
                      if (PACKAGE.parent / Path(*f"{imported}.{alias.name}".split("."))
                          ).with_suffix(".py").is_file()]
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def _application_packages() -> set[str]:
    """Top-level names importable from baselines/ and leaderboard/ (the applications)."""
    names = set()
    for folder in (ROOT / "baselines", ROOT / "leaderboard"):
        for child in folder.iterdir() if folder.is_dir() else ():
            if child.is_dir() and (child / "__init__.py").is_file() or child.suffix == ".py":
                names.add(child.stem)
    return names | {"wmheval_baselines"}


def test_the_layers_cover_every_module():
    for path in MODULES:
        _level(_module_name(path))  # raises for a module in no layer


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down_the_layers(path):
    module = _module_name(path)
    own = _level(module)
    wrong = []
    for line, imported in _imports(path):
        if not imported.startswith("wmheval.") and imported != "wmheval":
            continue
        target = _level(imported)
        if target is None:
            continue
        if own is None:
            wrong.append(f"line {line}: base module imports {imported}")
        elif target[0] > own[0] or (target[0] == own[0] and target[1] != own[1]):
            wrong.append(f"line {line}: {module} (layer {own[1]}) imports {imported} "
                         f"(layer {target[1]})")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_plug_in_point_imports_the_applications(path):
    module = _module_name(path)
    applications = _application_packages()
    offending = [f"line {line}: {imported}" for line, imported in _imports(path)
                 if imported.split(".")[0] in applications]
    if module in PLUG_IN:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top_level = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)
                     and any((getattr(node, "module", None) or alias.name).split(".")[0]
                             in applications for alias in node.names)]
        assert not top_level, f"{module} must import the applications lazily"
        return
    assert not offending, f"{module} imports an application: {offending}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_only_pipelines_open_an_output_set(path):
    module = _module_name(path)
    if module.startswith(OUTPUT_SET_OWNERS):
        return
    tree = ast.parse(path.read_text(encoding="utf-8"))
    uses = [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Name) and node.id == "output_set"
            or isinstance(node, ast.Attribute) and node.attr == "output_set"
            or isinstance(node, ast.alias) and node.name == "output_set"]
    assert not uses, f"{module} opens an output set (lines {uses}); only pipelines may"


def test_the_checks_can_fail():
    """The import reader sees nested and relative imports (a checker that reads nothing
    passes everything), and the level order is the documented one."""
    nested = "def f():\n    from wmheval.cli.app import app\n    import wmheval_baselines.train\n"
    names = {name for _, name in _imports_of_text(nested, "wmheval.metrics.probe", False)}
    assert {"wmheval.cli.app", "wmheval_baselines.train"} <= names
    relative = _imports_of_text("from ..io import tables\n", "wmheval.scoring.probe", False)
    assert {"wmheval.io", "wmheval.io.tables"} <= {name for _, name in relative}
    order = [_level(f"wmheval.{name}")[0] for name in
             ("metrics", "io", "scoring", "ranking", "analysis", "plots", "report",
              "pipelines", "cli")]
    assert order == sorted(order) and len(set(order)) == len(order)
    assert _level("wmheval.synth") == (_level("wmheval.scoring")[0], "synth")
