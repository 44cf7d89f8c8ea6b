"""Finding subjects in a reference folder and predictions in a submission folder.

Reference: the data release (``<split>/<site>[/<scanner>]/<id>/wmh.nii.gz``, also under a
``dataverse_files/`` top folder) or any tree of ``<id>/wmh.nii.gz``.
Submission: ``<id>/result.nii.gz`` (the challenge's layout, at any depth) or flat
``<id>.nii.gz`` / ``<id>.nii`` files. Hidden files are skipped; everything else that does
not match is reported, never silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

REFERENCE_NAME = "wmh.nii.gz"
RESULT_NAMES = ("result.nii.gz", "result.nii")
SPLITS = ("training", "test")


class LayoutError(ValueError):
    """A folder cannot be read as a reference or submission."""


@dataclass(frozen=True)
class ReferenceCase:
    """One reference subject: its id, label file, and the split its path says (or None)."""

    id: str
    path: Path
    split_from_path: str | None


@dataclass
class SubmissionIndex:
    """Predictions found in a submission folder, and the files that are not predictions."""

    predictions: dict[str, Path] = field(default_factory=dict)
    duplicates: dict[str, list[Path]] = field(default_factory=dict)
    unrecognised: list[tuple[Path, str]] = field(default_factory=list)


def _visible_files(root: Path):
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file():
            yield path


def _split_in(parts: tuple[str, ...]) -> str | None:
    found = [p for p in parts if p in SPLITS]
    return found[-1] if found else None


def find_reference_cases(reference_dir: str | Path) -> list[ReferenceCase]:
    """Every ``<id>/wmh.nii.gz`` below ``reference_dir``, sorted by id.

    Raises :class:`LayoutError` if the folder does not exist, holds no reference file, or
    two reference files share an id.
    """
    root = Path(reference_dir)
    if not root.is_dir():
        raise LayoutError(f"{root}: reference folder not found")
    cases: dict[str, ReferenceCase] = {}
    for path in sorted(root.rglob(REFERENCE_NAME)):
        relative = path.relative_to(root)
        if len(relative.parts) < 2:
            raise LayoutError(f"{path}: a reference file needs its own <id>/ folder")
        if "additional_annotations" in relative.parts:
            continue
        case_id = path.parent.name
        if case_id in cases:
            raise LayoutError(f"{root}: subject id {case_id!r} appears twice "
                              f"({cases[case_id].path} and {path})")
        cases[case_id] = ReferenceCase(case_id, path, _split_in(relative.parts[:-2]))
    if not cases:
        raise LayoutError(f"{root}: no <id>/{REFERENCE_NAME} files found")
    return sorted(cases.values(), key=lambda c: _id_sort_key(c.id))


def _id_sort_key(case_id: str) -> tuple[int, int | str]:
    return (0, int(case_id)) if case_id.isdigit() else (1, case_id)


def _prediction_id(path: Path, root: Path) -> str | None:
    name = path.name
    if name in RESULT_NAMES:
        return path.parent.name if path.parent != root else None
    for suffix in (".nii.gz", ".nii"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def index_submission(submission_dir: str | Path) -> SubmissionIndex:
    """Map subject ids to prediction files in a submission folder (both layouts accepted)."""
    root = Path(submission_dir)
    if not root.is_dir():
        raise LayoutError(f"{root}: submission folder not found")
    index = SubmissionIndex()
    for path in _visible_files(root):
        case_id = _prediction_id(path, root)
        if case_id is None:
            index.unrecognised.append((path, "not a prediction: expected <id>/result.nii.gz "
                                             "or <id>.nii.gz"))
            continue
        if case_id in index.predictions or case_id in index.duplicates:
            index.duplicates.setdefault(case_id, [index.predictions.pop(case_id, None)])
            index.duplicates[case_id].append(path)
            continue
        index.predictions[case_id] = path
    for case_id, paths in index.duplicates.items():
        index.duplicates[case_id] = [p for p in paths if p is not None]
    return index
