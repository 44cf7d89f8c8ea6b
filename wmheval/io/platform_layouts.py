"""Where a hosted platform puts a submission's predictions: grand-challenge.org's layouts.

A prediction-zip phase extracts the participant's zip into ``/input``: that is a wmheval
submission folder (:func:`wmheval.io.layouts.index_submission`). An algorithm phase writes
``/input/predictions.json``: the platform's ``JobSerializer`` output for the successful
jobs, a list (in no particular order) of objects with ``pk``, ``inputs`` and ``outputs``;
each value has ``interface`` (``slug``, ``relative_path``, ``kind``, ``super_kind``) and,
for images, ``image`` (``name``). A job's image output lies at
``/input/<pk>/output/<relative_path>``: a folder holding one ``.mha`` (or ``.tif``) file.

:func:`read_predictions_json` maps each job to a reference subject through its input
image's name (``<id>.mha``, ``<id>_<anything>.mha``, or a name listed in an ``id_map``),
and to the file of its segmentation output. The file is read from others: it is size-capped,
parsed strictly (no NaN), and no path it names may leave ``/input``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from wmheval.errors import InputError
from wmheval.io.layouts import SubmissionIndex
from wmheval.io.paths import display_path, is_within, not_a_file_problem

PREDICTIONS_JSON = "predictions.json"
MAX_PREDICTIONS_JSON_BYTES = 64 << 20
"""Largest predictions.json read (64 MiB; one job takes about 2 KiB)."""
MAX_JOBS = 100_000
IMAGE_SUFFIXES = (".nii.gz", ".nii", ".mha", ".mhd", ".tiff", ".tif")
_PK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_PREFERRED_SLUG = re.compile(r"wmh|hyperintens|white-matter|segmentation", re.IGNORECASE)


class PlatformLayoutError(InputError):
    """``predictions.json`` cannot be read at all (the whole submission is unusable)."""


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def load_predictions_json(path: str | Path) -> list[dict]:
    """The jobs of a ``predictions.json``: a list of objects (size-capped, strict JSON)."""
    path = Path(path)
    problem = not_a_file_problem(path)
    if problem is not None:
        raise PlatformLayoutError(f"{display_path(path)}: {problem}")
    size = os.stat(path).st_size
    if size > MAX_PREDICTIONS_JSON_BYTES:
        raise PlatformLayoutError(f"{display_path(path)}: {size} bytes, more than the "
                                  f"{MAX_PREDICTIONS_JSON_BYTES} read")
    try:
        with open(path, "rb") as handle:
            text = handle.read(MAX_PREDICTIONS_JSON_BYTES + 1).decode("utf-8")
        jobs = json.loads(text, parse_constant=_refuse_constant)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise PlatformLayoutError(f"{display_path(path)}: not a readable JSON file "
                                  f"({str(error)[:200]})") from None
    if not isinstance(jobs, list):
        raise PlatformLayoutError(f"{display_path(path)}: expected a list of jobs, found "
                                  f"{type(jobs).__name__}")
    if len(jobs) > MAX_JOBS:
        raise PlatformLayoutError(f"{display_path(path)}: {len(jobs)} jobs, more than the "
                                  f"{MAX_JOBS} read")
    return jobs


def image_stem(name: str) -> str:
    """A file name without its image suffix (``0_flair.nii.gz`` -> ``0_flair``)."""
    lowered = name.lower()
    for suffix in IMAGE_SUFFIXES:
        if lowered.endswith(suffix):
            return name[: -len(suffix)]
    return name


def subject_for_name(name: str, reference_ids: Iterable[str],
                     id_map: Mapping[str, str] | None = None) -> str | None:
    """The reference subject an input image's ``name`` stands for, or None.

    ``id_map`` (archive image name, with or without suffix -> subject id) wins; else the
    name's stem when it is a subject id; else the longest subject id the stem starts with,
    followed by ``_``, ``-``, ``.`` or a space (``12_flair`` is subject 12, never 1).
    """
    ids = set(reference_ids)
    if id_map:
        for key in (name, image_stem(name)):
            if key in id_map and str(id_map[key]) in ids:
                return str(id_map[key])
    stem = image_stem(name)
    if stem in ids:
        return stem
    matches = [i for i in ids if stem.startswith(i) and len(stem) > len(i)
               and stem[len(i)] in "_-. "]
    return max(matches, key=len) if matches else None


def _values(job: dict, key: str) -> list[dict]:
    values = job.get(key)
    return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []


def _interface(value: dict) -> dict:
    interface = value.get("interface")
    return interface if isinstance(interface, dict) else {}


def _image_outputs(job: dict) -> list[dict]:
    return [v for v in _values(job, "outputs")
            if _interface(v).get("super_kind") == "Image" or isinstance(v.get("image"), dict)]


def _choose_output(outputs: list[dict], slug: str | None) -> tuple[dict | None, str]:
    if slug is not None:
        chosen = [v for v in outputs if _interface(v).get("slug") == slug]
        return (chosen[0], "") if len(chosen) == 1 else (
            None, f"no image output with the interface slug {slug!r}")
    if len(outputs) == 1:
        return outputs[0], ""
    preferred = [v for v in outputs if _PREFERRED_SLUG.search(str(_interface(v).get("slug")))]
    if len(preferred) == 1:
        return preferred[0], ""
    slugs = sorted(str(_interface(v).get("slug")) for v in outputs)
    return None, (f"{len(outputs)} image outputs ({', '.join(slugs)[:200]}); expected one "
                  "segmentation")


def _output_file(input_dir: Path, pk: str, relative_path: str) -> tuple[Path | None, str]:
    """The output's file below ``input_dir/pk/output``; (None, why) when unusable."""
    if (not relative_path or relative_path.startswith(("/", "\\"))
            or any(part in ("", "..", ".") for part in relative_path.split("/"))
            or "\0" in relative_path):
        return None, f"output relative_path {relative_path[:80]!r} is not a plain relative path"
    location = input_dir / pk / "output" / relative_path
    if not is_within(Path(os.path.realpath(location)), Path(os.path.realpath(input_dir))):
        return None, "the output's path leads outside the input folder"
    if location.is_dir():
        files = sorted(p for p in location.iterdir()
                       if not p.name.startswith(".") and p.name.lower().endswith(
                           IMAGE_SUFFIXES))
        if len(files) != 1:
            return None, (f"{display_path(location)}: expected one image file, found "
                          f"{len(files)}")
        location = files[0]
    if not is_within(Path(os.path.realpath(location)), Path(os.path.realpath(input_dir))):
        return None, "the output's path leads outside the input folder"
    lowered = location.name.lower()
    if lowered.endswith((".tif", ".tiff")):
        return None, f"{display_path(location)}: TIFF outputs are not supported; write .mha"
    return location, ""


def read_predictions_json(input_dir: str | Path, reference_ids: Iterable[str], *,
                          id_map: Mapping[str, str] | None = None,
                          output_slug: str | None = None) -> SubmissionIndex:
    """Map subject ids to the segmentation files of an algorithm phase's jobs.

    Jobs may come in any order. Each job's subject comes from its input images' names
    (:func:`subject_for_name`); its prediction from its one image output (or the one whose
    interface slug names a WMH segmentation, or ``output_slug``). Jobs that map to no
    subject, or whose output is unusable, are listed in ``unrecognised`` with the reason;
    two jobs for one subject are ``duplicates``. Raises :class:`PlatformLayoutError` when
    ``predictions.json`` itself is unreadable.
    """
    input_dir = Path(input_dir)
    ids = [str(i) for i in reference_ids]
    jobs = load_predictions_json(input_dir / PREDICTIONS_JSON)
    index = SubmissionIndex()
    for number, job in enumerate(jobs):
        where = Path(f"{PREDICTIONS_JSON} job {number}")
        if not isinstance(job, dict):
            index.unrecognised.append((where, "not a job object"))
            continue
        pk = job.get("pk")
        if not isinstance(pk, str) or not _PK.fullmatch(pk):
            index.unrecognised.append((where, "the job has no usable pk"))
            continue
        where = Path(f"{PREDICTIONS_JSON} job {pk}")
        status = job.get("status", "Succeeded")
        if status not in ("Succeeded", "Success", None):
            index.unrecognised.append((where, f"job status {str(status)[:40]!r}"))
            continue
        names = [str(v["image"].get("name", "")) for v in _values(job, "inputs")
                 if isinstance(v.get("image"), dict)]
        subjects = {s for s in (subject_for_name(n, ids, id_map) for n in names) if s}
        if len(subjects) != 1:
            shown = ", ".join(n[:60] for n in names[:3]) or "none"
            why = ("its input images name no reference subject" if not subjects else
                   f"its input images name several subjects ({', '.join(sorted(subjects))})")
            index.unrecognised.append((where, f"{why} (input images: {shown})"))
            continue
        subject = subjects.pop()
        output, why = _choose_output(_image_outputs(job), output_slug)
        if output is None:
            index.unrecognised.append((where, why or "no image output"))
            continue
        relative = _interface(output).get("relative_path")
        path, why = _output_file(input_dir, pk, relative if isinstance(relative, str) else "")
        if path is None:
            index.unrecognised.append((where, why))
            continue
        if subject in index.predictions or subject in index.duplicates:
            index.duplicates.setdefault(subject, [index.predictions.pop(subject, None)])
            index.duplicates[subject].append(path)
            continue
        index.predictions[subject] = path
    for subject, paths in index.duplicates.items():
        index.duplicates[subject] = [p for p in paths if p is not None]
    return index
