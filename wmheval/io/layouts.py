"""Finding subjects in a reference folder and predictions in a submission folder.

Reference: the data release (``<split>/<site>[/<scanner>]/<id>/wmh.nii.gz``, also under a
``dataverse_files/`` top folder) or any tree of ``<id>/wmh.nii.gz``.
Submission: ``<id>/result.nii.gz`` (the challenge's layout, at any depth) or flat
``<id>.nii.gz`` / ``<id>.nii`` files. Hidden files are skipped; everything else that does
not match is reported, never silently ignored: documents beside the predictions (a
``README.txt``, a ``LICENSE``, a ``.csv``; :func:`is_document`) are listed as such and are no
problem, any other stray file is.

A folder of team folders (``teams/<team>/<id>/result.nii.gz``) is several submissions, not
one: :func:`find_team_submissions` lists them for ``wmheval score --teams``, and
:func:`team_folders_in` recognises the layout when it is given as one submission.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from pathlib import Path

from wmheval.errors import InputError
from wmheval.io.paths import display_path, not_a_file_problem

REFERENCE_NAME = "wmh.nii.gz"
RESULT_NAMES = ("result.nii.gz", "result.nii")
SPLITS = ("training", "test")
NIFTI_NAMES = (".nii.gz", ".nii")


class LayoutError(InputError):
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
    documents: list[Path] = field(default_factory=list)
    """Regular files that are documents (:func:`is_document`), not predictions: listed in a
    note, no problem."""


DOCUMENT_SUFFIXES = frozenset({
    ".txt", ".md", ".markdown", ".rst", ".pdf", ".csv", ".tsv", ".json", ".yaml", ".yml",
    ".toml", ".cfg", ".ini", ".html", ".htm", ".log", ".py", ".sh", ".ipynb", ".doc", ".docx",
    ".odt", ".rtf", ".xml", ".tex", ".bib"})
"""Suffixes of files that are documentation or metadata beside the predictions."""
DOCUMENT_NAMES = frozenset({"readme", "license", "licence", "copying", "authors", "notice",
                            "changelog", "citation", "thumbs.db", "desktop.ini"})
"""Names (before any suffix, any case) of documentation files without a document suffix."""


def is_document(path: str | Path) -> bool:
    """Whether ``path`` names a document (``README.txt``, ``LICENSE``, ``method.pdf``,
    ``teams.csv``) rather than something that could be a misnamed prediction: a name in
    :data:`DOCUMENT_NAMES` or a suffix in :data:`DOCUMENT_SUFFIXES`. Image-like names
    (``1_flair.nii.gz``, ``1.mha``) and names without a known suffix are not documents.

    >>> is_document("README.txt"), is_document("LICENSE"), is_document("1_seg.nii.gz")
    (True, True, False)
    """
    name = Path(path).name.lower()
    return name.partition(".")[0] in DOCUMENT_NAMES or Path(name).suffix in DOCUMENT_SUFFIXES


@dataclass(frozen=True)
class TreeEntry:
    """One visible entry of a folder tree: a regular file (``problem`` empty) or something
    that is not one, with the reason in words."""

    path: Path
    problem: str = ""

    @property
    def is_file(self) -> bool:
        return not self.problem


def walk_tree(root: Path, skip: tuple[Path, ...] = ()) -> list[TreeEntry]:
    """Every visible entry below ``root``, iteratively (no recursion limit), sorted by path.

    Regular files (also through symbolic links) come with an empty problem. Everything
    else that is not a folder is reported by name: FIFOs, sockets and devices (also behind
    links), broken links and link loops; so are folders that cannot be listed (e.g. a path
    longer than the system allows). Folders are descended once, also through links (a link
    back up the tree is reported as a loop); folders in ``skip`` and hidden names (starting
    with ``.``) are left out, and so is any folder holding a wmheval output manifest (a
    previous ``--out`` inside the tree).
    """
    from wmheval.io.outputs import MANIFEST_NAME

    skipped = {os.path.abspath(p) for p in skip}
    entries: list[TreeEntry] = []
    seen: set[tuple[int, int]] = set()
    try:
        info = os.stat(root)
        seen.add((info.st_dev, info.st_ino))
    except OSError:
        pass
    stack = [os.fspath(root)]
    root_text = stack[0]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as listing:
                children = sorted(listing, key=lambda e: e.name)
        except OSError as error:
            why = ("path longer than the system allows" if error.errno == errno.ENAMETOOLONG
                   else error.strerror or str(error))
            entries.append(TreeEntry(Path(folder), f"cannot list this folder ({why})"))
            continue
        if folder != root_text and any(child.name == MANIFEST_NAME for child in children):
            continue
        for child in children:
            if child.name.startswith("."):
                continue
            text = child.path  # strings, not Paths, while descending: deep trees stay linear
            if skipped and os.path.abspath(text) in skipped:
                continue
            problem = not_a_file_problem(text)
            if problem is None:
                entries.append(TreeEntry(Path(text)))
                continue
            if problem == "not a regular file but a folder" or problem.endswith(
                    "symbolic link to a folder"):
                try:
                    info = os.stat(text)
                except OSError as error:  # vanished meanwhile
                    entries.append(TreeEntry(Path(text), f"cannot access ({error.strerror})"))
                    continue
                key = (info.st_dev, info.st_ino)
                if key in seen:
                    entries.append(TreeEntry(Path(text), "symbolic link loop (a folder "
                                                         "already visited)"))
                    continue
                seen.add(key)
                stack.append(text)
                if child.name.endswith(NIFTI_NAMES):
                    entries.append(TreeEntry(Path(text), "a folder named like an image file"))
                continue
            entries.append(TreeEntry(Path(text), problem))
    return sorted(entries, key=lambda e: os.fsencode(e.path))


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
        raise LayoutError(f"{display_path(root)}: reference folder not found")
    cases: dict[str, ReferenceCase] = {}
    for entry in walk_tree(root):
        path = entry.path
        if path.name != REFERENCE_NAME:
            continue
        relative = path.relative_to(root)
        if len(relative.parts) < 2:
            raise LayoutError(f"{display_path(path)}: a reference file needs its own <id>/ "
                              "folder")
        if "additional_annotations" in relative.parts:
            continue
        case_id = path.parent.name
        if case_id in cases:
            raise LayoutError(f"{display_path(root)}: subject id {display_path(case_id)!r} "
                              f"appears twice ({display_path(cases[case_id].path)} and "
                              f"{display_path(path)})")
        # A FIFO, folder or broken link named wmh.nii.gz stays a case: reading it fails
        # with the reason, blamed on the reference.
        cases[case_id] = ReferenceCase(case_id, path, _split_in(relative.parts[:-2]))
    if not cases:
        raise LayoutError(f"{display_path(root)}: no <id>/{REFERENCE_NAME} files found")
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


def index_submission(submission_dir: str | Path, skip: tuple[Path, ...] = ()
                     ) -> SubmissionIndex:
    """Map subject ids to prediction files in a submission folder (both layouts accepted).

    Entries named like a prediction that are not regular files (a FIFO, a folder, a broken
    link) still count as that subject's prediction, so its case fails with the reason
    instead of reading "no prediction"; other non-files are listed as unrecognised. Paths in
    ``skip`` (e.g. the output folder) are not indexed.
    """
    root = Path(submission_dir)
    if not root.is_dir():
        raise LayoutError(f"{display_path(root)}: submission folder not found")
    index = SubmissionIndex()
    for entry in walk_tree(root, skip):
        path = entry.path
        case_id = _prediction_id(path, root)
        if case_id is None and entry.is_file and is_document(path):
            index.documents.append(path)
            continue
        if case_id is None:
            why = (entry.problem if entry.problem else "not a prediction: expected "
                   "<id>/result.nii.gz or <id>.nii.gz")
            index.unrecognised.append((path, why))
            continue
        if case_id in index.predictions or case_id in index.duplicates:
            index.duplicates.setdefault(case_id, [index.predictions.pop(case_id, None)])
            index.duplicates[case_id].append(path)
            continue
        index.predictions[case_id] = path
    for case_id, paths in index.duplicates.items():
        index.duplicates[case_id] = [p for p in paths if p is not None]
    return index


def _top_folder(path: Path, root: Path) -> str | None:
    """The first component of ``path`` below ``root`` when it is a folder there."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return None
    return parts[0] if len(parts) > 1 else None


def team_folders_in(index: SubmissionIndex, root: str | Path,
                    reference_ids: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """The top-level folders of a submission that look like several teams' submissions
    (``teams/<team>/<id>/result.nii.gz``), else an empty list.

    The layout is recognised when subjects have several predictions, each in another
    top-level folder, at least two top-level folders hold predictions, and none of those
    folders is named like a reference subject (``sub/1/result.nii.gz`` is one submission).
    """
    root = Path(root)
    if not index.duplicates:
        return []
    holders: dict[str, int] = {}
    for path in [*index.predictions.values(),
                 *(p for paths in index.duplicates.values() for p in paths)]:
        top = _top_folder(path, root)
        if top is None:
            return []
        holders[top] = holders.get(top, 0) + 1
    if len(holders) < 2 or any(top in reference_ids for top in holders):
        return []
    for paths in index.duplicates.values():
        tops = [_top_folder(p, root) for p in paths]
        if len(set(tops)) != len(tops):
            return []
    return sorted(holders, key=os.fsencode)


@dataclass(frozen=True)
class TeamSubmissions:
    """The submissions in a folder of team submissions (``wmheval score --teams``)."""

    submissions: dict[str, Path]
    """Team name (the folder's or archive's name, archive suffix removed) to its folder or
    archive, in name order."""
    skipped: list[tuple[Path, str]]
    """Entries that are no team's submission (documents, other files), with the reason."""


def find_team_submissions(folder: str | Path) -> TeamSubmissions:
    """Each team's submission in ``folder``: every visible sub-folder, and every ``.zip``,
    ``.tar``, ``.tar.gz`` or ``.tgz`` archive, is one team's submission; other files (a
    ``teams.csv``, a ``README.txt``) and wmheval output folders (an ``--out`` written
    inside) are skipped with the reason.

    Raises :class:`LayoutError` when ``folder`` is not a folder, holds no team submission,
    or two entries give the same team name (``a/`` and ``a.zip``).
    """
    from wmheval.io.archives import ARCHIVE_SUFFIXES
    from wmheval.io.outputs import MANIFEST_NAME

    root = Path(folder)
    if not root.is_dir():
        raise LayoutError(f"{display_path(root)}: folder of team submissions not found")
    submissions: dict[str, Path] = {}
    skipped: list[tuple[Path, str]] = []
    try:
        entries = sorted(os.scandir(root), key=lambda e: os.fsencode(e.name))
    except OSError as error:
        raise LayoutError(f"{display_path(root)}: cannot list the folder "
                          f"({error.strerror})") from None
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        lower = entry.name.lower()
        suffix = next((s for s in ARCHIVE_SUFFIXES if lower.endswith(s)), None)
        if entry.is_dir() and (path / MANIFEST_NAME).exists():
            skipped.append((path, "a wmheval output folder (e.g. an earlier --out), not a "
                                  "submission"))
            continue
        if entry.is_dir():
            team = entry.name
        elif suffix is not None and entry.is_file() and len(entry.name) > len(suffix):
            team = entry.name[: -len(suffix)]
        else:
            why = (not_a_file_problem(entry.path) or
                   ("a document, not a submission" if is_document(path) else
                    "not a team submission: expected a folder or a .zip, .tar or .tar.gz "
                    "archive"))
            skipped.append((path, why))
            continue
        team = display_path(team)
        if team in submissions:
            raise LayoutError(f"{display_path(root)}: two submissions for team {team!r}: "
                              f"{display_path(submissions[team])} and {display_path(path)}; "
                              "keep one")
        submissions[team] = path
    if not submissions:
        raise LayoutError(f"{display_path(root)}: no team submissions inside (expected one "
                          "folder or archive per team: <team>/<id>/result.nii.gz)")
    return TeamSubmissions(submissions, skipped)


def holds_references(folder: str | Path) -> bool:
    """Whether a folder tree holds reference files (``<id>/wmh.nii.gz``)."""
    root = Path(folder)
    if not root.is_dir():
        return False
    return any(e.path.name == REFERENCE_NAME for e in walk_tree(root) if e.is_file)


def suggested_id(prediction_id: str, reference_ids: set[str] | frozenset[str]) -> str | None:
    """The reference id a prediction's unknown id most likely means, or None: the same
    number without leading zeros or affixes (``001``, ``sub-001``, ``1_seg`` mean ``1``), or
    the same text in another case.

    >>> suggested_id("001", {"1", "2"}), suggested_id("sub-02", {"1", "2"})
    ('1', '2')
    >>> suggested_id("17", {"1", "2"}) is None, suggested_id("7", {"sub-007"})
    (True, 'sub-007')
    """
    import re

    lowered = {r.lower(): r for r in reference_ids}
    if prediction_id.lower() in lowered:
        return lowered[prediction_id.lower()]
    numbers = re.findall(r"\d+", prediction_id)
    if len(numbers) != 1:
        return None
    if str(int(numbers[0])) in reference_ids:
        return str(int(numbers[0]))
    by_number: dict[int, list[str]] = {}
    for reference in reference_ids:  # zero-padded or prefixed reference ids (sub-001)
        found = re.findall(r"\d+", reference)
        if len(found) == 1:
            by_number.setdefault(int(found[0]), []).append(reference)
    matches = by_number.get(int(numbers[0]), [])
    return matches[0] if len(matches) == 1 else None
