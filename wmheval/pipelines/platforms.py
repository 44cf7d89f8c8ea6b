"""``wmheval platform-run`` and ``wmheval export``: wmheval as the evaluation method on
grand-challenge.org and Codabench (``docs/platforms.md``).

``platform-run`` scores one submission in the platform's container and writes only what
the platform reads (``metrics.json``; ``scores.json`` and ``detailed_results.html``), each
file atomically, into the platform's output folder (a mount, so never replaced whole).
``export`` writes what an organiser uploads, as one wmheval output set.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wmheval import __version__
from wmheval.errors import DataProblem, InputError
from wmheval.io.atomic import write_text_atomic
from wmheval.io.layouts import find_reference_cases
from wmheval.io.manifest import find_data_manifest
from wmheval.io.outputs import output_set
from wmheval.io.paths import display_path
from wmheval.ranking.frozen import FrozenFieldScore, frozen_field_score, load_frozen_field
from wmheval.report import platforms as platform_report
from wmheval.scoring.folder import ScoreResult, score_folder
from wmheval.scoring.policy import DEFAULT_POLICY, ScoringPolicy

GRAND_CHALLENGE_INPUT = Path("/input")
GRAND_CHALLENGE_GROUND_TRUTH = Path("/opt/ml/input/data/ground_truth")
GRAND_CHALLENGE_OUTPUT = Path("/output")
CODABENCH_REFERENCE = "/app/input/ref"
CODABENCH_PREDICTIONS = "/app/input/res"
CODABENCH_OUTPUT = "/app/output"
ZIP_LAYOUT_HINT = "name each file <id>/result.nii.gz or <id>.nii.gz, <id> the subject id"
ALGORITHM_LAYOUT_HINT = ("each job's input image must be named after its subject and its "
                         "output be one .mha segmentation")
ID_MAP_NAME = "id_map.json"


@dataclass
class PlatformRun:
    """What one ``platform-run`` did: the scoring, the proxy, the files and the sentence."""

    result: ScoreResult
    frozen: FrozenFieldScore
    written: list[Path]
    sentence: str
    """The last stderr line: what the participant reads."""
    problems: list[str] = field(default_factory=list)
    """Lines for the organiser's log (stderr before the sentence)."""
    usable: bool = True


def _provenance(result: ScoreResult, rule: str) -> dict[str, str]:
    return {"version": __version__, "policy": result.policy.name, "binarize": rule,
            "reference_sha256": result.input_digests.get("reference", ""),
            "predictions_sha256": result.input_digests.get("submission", "")}


def _problem_lines(result: ScoreResult) -> list[str]:
    lines = [f"{row['status']} {row['id']}: {row['error']}"
             for _, row in result.cases.iterrows() if row["status"] in ("missing", "error")]
    lines += [f"unmatched {row['path']}: {row['problem']}"
              for _, row in result.unmatched.iterrows()]
    return lines + [f"note: {note}" for note in result.notes]


def _read_id_map(ground_truth: Path) -> dict[str, str] | None:
    path = ground_truth / ID_MAP_NAME
    if not path.is_file():
        return None
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(f"{display_path(path)}: not a readable JSON object ({error})") from None
    if not isinstance(table, dict):
        raise InputError(f"{display_path(path)}: expected an object of image name -> id")
    return {str(k): str(v) for k, v in table.items()}


def _score(reference: Path, predictions: Path, *, policy: ScoringPolicy, rule: str,
           jobs: int | None, index=None) -> ScoreResult:
    if not reference.is_dir():
        raise InputError(f"{display_path(reference)}: reference folder not found")
    if not predictions.is_dir():
        raise InputError(f"{display_path(predictions)}: predictions folder not found")
    try:
        return score_folder(reference, predictions, policy=policy, rule=rule, split="all",
                            jobs=jobs, index=index)
    except ValueError as error:
        raise InputError(str(error)) from None


def run_grand_challenge(input_dir: str | Path = GRAND_CHALLENGE_INPUT,
                        ground_truth: str | Path = GRAND_CHALLENGE_GROUND_TRUTH,
                        output_dir: str | Path = GRAND_CHALLENGE_OUTPUT, *,
                        per_case: bool = False, reference_field: str | Path | None = None,
                        policy: ScoringPolicy = DEFAULT_POLICY, rule: str = "official",
                        jobs: int | None = None) -> PlatformRun:
    """Score a grand-challenge submission and write ``output_dir/metrics.json``.

    ``input_dir`` is a prediction-zip phase's extracted upload (a wmheval submission
    folder), or an algorithm phase's folder with ``predictions.json`` (jobs in any order,
    outputs at ``<pk>/output/<relative_path>``, ``.mha`` images read by
    :mod:`wmheval.io.metaimage`). Every reference subject is scored (``split="all"``).
    ``metrics.json`` is written whenever any prediction was usable; when none matched a
    subject nothing is written and ``usable`` is False (the command exits 1).
    """
    input_dir, ground_truth, output_dir = Path(input_dir), Path(ground_truth), Path(output_dir)
    index = None
    hint = ZIP_LAYOUT_HINT
    from wmheval.io.platform_layouts import (
        PREDICTIONS_JSON,
        PlatformLayoutError,
        read_predictions_json,
    )

    if (input_dir / PREDICTIONS_JSON).exists():
        hint = ALGORITHM_LAYOUT_HINT
        try:
            ids = [case.id for case in find_reference_cases(ground_truth)]
            index = read_predictions_json(input_dir, ids, id_map=_read_id_map(ground_truth))
        except PlatformLayoutError as error:
            raise DataProblem(str(error)) from None
        except ValueError as error:
            raise InputError(str(error)) from None
    result = _score(ground_truth, input_dir, policy=policy, rule=rule, jobs=jobs, index=index)
    field_means, label = load_frozen_field(reference_field)
    frozen = frozen_field_score(platform_report.overall_ranked_means(result.summary),
                                field_means, label)
    sentence = platform_report.participant_sentence(result.cases, result.unmatched,
                                                    layout_hint=hint,
                                                    reference_dir=str(ground_truth))
    counts = platform_report.case_counts(result.cases)
    usable = counts["n_scored"] > 0 or counts["n_failed"] > 0
    written: list[Path] = []
    if usable:
        document = platform_report.grand_challenge_metrics(
            result.cases, result.summary, frozen, per_case=per_case,
            provenance=_provenance(result, rule))
        written.append(write_text_atomic(output_dir / "metrics.json",
                                          platform_report.dumps_json(document)))
    return PlatformRun(result, frozen, written, sentence, _problem_lines(result), usable)


def run_codabench(reference: str | Path, predictions: str | Path, output_dir: str | Path, *,
                  per_case: bool = False, reference_field: str | Path | None = None,
                  policy: ScoringPolicy = DEFAULT_POLICY, rule: str = "official",
                  jobs: int | None = None) -> PlatformRun:
    """Score a Codabench submission: ``output_dir/scores.json`` (finite numbers, one per
    leaderboard column key) and ``detailed_results.html`` (per-subject rows only with
    ``per_case``). Nothing else goes into ``output_dir``: Codabench shows its first
    ``.html`` and lets participants download the folder."""
    reference, predictions, output_dir = Path(reference), Path(predictions), Path(output_dir)
    result = _score(reference, predictions, policy=policy, rule=rule, jobs=jobs)
    field_means, label = load_frozen_field(reference_field)
    frozen = frozen_field_score(platform_report.overall_ranked_means(result.summary),
                                field_means, label)
    scores, notes = platform_report.codabench_scores(result.cases, result.summary, frozen)
    counts = platform_report.case_counts(result.cases)
    usable = counts["n_scored"] > 0 or counts["n_failed"] > 0
    sentence = platform_report.participant_sentence(result.cases, result.unmatched,
                                                    layout_hint=ZIP_LAYOUT_HINT,
                                                    reference_dir=str(reference))
    html = platform_report.detailed_results_html(
        result.cases, result.summary, frozen, scores, per_case=per_case,
        notes=[*notes, sentence],
        provenance=f"wmheval {__version__}, policy {result.policy.name}, rule {rule}")
    written = []
    if usable:
        written.append(write_text_atomic(output_dir / "scores.json",
                                         platform_report.dumps_json(scores)))
    written.append(write_text_atomic(output_dir / "detailed_results.html", html))
    return PlatformRun(result, frozen, written, sentence, _problem_lines(result), usable)


# ---------------------------------------------------------------------------- export


def build_wheel(destination: Path) -> Path:
    """``pip wheel <source> --no-deps`` into ``destination``; the wheel's path.

    Needs the source checkout wmheval runs from (its ``pyproject.toml``) and pip able to
    fetch the build backend; otherwise give a wheel with ``--wheel``.
    """
    source = Path(__file__).resolve().parents[2]
    if not (source / "pyproject.toml").is_file():
        raise InputError("wmheval is not running from a source checkout, so no wheel can be "
                         "built; give one with --wheel FILE")
    destination.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wmheval-wheel-") as temporary:
        done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps",
                               "-w", temporary, "-q"], capture_output=True, text=True,
                              check=False)
        wheels = sorted(Path(temporary).glob("wmheval-*.whl"))
        if done.returncode != 0 or not wheels:
            last = (done.stderr.strip().splitlines() or ["no wheel built"])[-1]
            raise InputError(f"pip wheel {display_path(source)} failed ({last[:200]}); "
                             "give a wheel with --wheel FILE")
        target = destination / wheels[0].name
        shutil.copyfile(wheels[0], target)
    return target


def _copy_wheel(wheel: str | Path | None, destination: Path) -> Path:
    if wheel is None:
        return build_wheel(destination)
    wheel = Path(wheel)
    if not wheel.is_file() or not wheel.name.startswith("wmheval-") \
            or wheel.suffix != ".whl":
        raise InputError(f"{display_path(wheel)}: not a wmheval wheel file "
                         "(wmheval-<version>-...whl)")
    destination.mkdir(parents=True, exist_ok=True)
    target = destination / wheel.name
    shutil.copyfile(wheel, target)
    return target


def _reference_files(reference: Path) -> list[tuple[str, Path]]:
    """(name in the archive, file) of every reference label and a shipped manifest."""
    try:
        cases = find_reference_cases(reference)
    except ValueError as error:
        raise InputError(str(error)) from None
    files = [(f"{case.id}/{case.path.name}", case.path) for case in cases]
    manifest = find_data_manifest(reference)
    if manifest is not None:
        files.append((manifest.name, manifest))
    return files


def _write_tarball(files: list[tuple[str, Path]], target: Path) -> None:
    """A reproducible .tar.gz of regular files only (mtime 0, root owner, mode 0644)."""
    with open(target, "wb") as raw, \
            tarfile.open(fileobj=raw, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        for name, path in sorted(files):
            data = path.read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            archive.addfile(info, io.BytesIO(data))


_GC_DOCKERFILE = """\
# wmheval {version} as a grand-challenge.org evaluation method (docs/platforms.md).
FROM python:3.11-slim
RUN groupadd --system user && useradd --system --create-home --gid user user
COPY --chown=user:user wheels/ /opt/wheels/
RUN python -m pip install --no-cache-dir /opt/wheels/{wheel} && rm -rf /opt/wheels
USER user
WORKDIR /home/user
ENV MPLCONFIGDIR=/tmp/matplotlib PYTHONDONTWRITEBYTECODE=1
ENTRYPOINT {entrypoint}
"""

_CODABENCH_DOCKERFILE = """\
# wmheval {version} for Codabench scoring programs (docs/platforms.md). Build, push to a
# registry, and set docker_image in competition.yaml to the pushed name.
FROM python:3.11-slim
RUN groupadd --system user && useradd --system --create-home --gid user user
COPY wheels/ /opt/wheels/
RUN python -m pip install --no-cache-dir /opt/wheels/{wheel} && rm -rf /opt/wheels
ENV MPLCONFIGDIR=/tmp/matplotlib PYTHONDONTWRITEBYTECODE=1
"""


def _test_subjects(reference: Path, n: int = 2) -> list:
    return find_reference_cases(reference)[:n]


def _prediction_of(case) -> tuple[np.ndarray, object]:
    """A test prediction for a subject: its reference's WMH label (class 1) as uint8."""
    from wmheval.io.images import read_image

    loaded = read_image(case.path)
    return (loaded.array == 1).astype(np.uint8), loaded.geometry


def _write_mha(array: np.ndarray, geometry, path: Path) -> None:
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(array)
    image.SetSpacing(geometry.spacing)
    image.SetOrigin(geometry.origin)
    image.SetDirection(geometry.direction)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path), useCompression=True)


def _grand_challenge_test_input(reference: Path, test_dir: Path, kind: str) -> None:
    """``test/input`` for the chosen phase kind, with predictions for the first subjects."""
    from wmheval.io.images import write_image

    input_dir = test_dir / "input"
    input_dir.mkdir(parents=True, exist_ok=True)
    jobs = []
    for number, case in enumerate(_test_subjects(reference)):
        array, geometry = _prediction_of(case)
        if kind == "predictions":
            write_image(array, geometry, input_dir / case.id / "result.nii.gz")
            continue
        pk = str(uuid.UUID(int=number + 1))
        name = f"{uuid.UUID(int=1000 + number)}.mha"
        _write_mha(array, geometry, input_dir / pk / "output" / "images" /
                   "white-matter-hyperintensities" / name)
        jobs.append({
            "pk": pk, "status": "Succeeded",
            "inputs": [{"interface": {"slug": "brain-flair", "kind": "Image",
                                      "super_kind": "Image",
                                      "relative_path": "images/brain-flair"},
                        "image": {"name": f"{case.id}_flair.mha"}, "file": None,
                        "value": None}],
            "outputs": [{"interface": {"slug": "white-matter-hyperintensities",
                                       "kind": "Segmentation", "super_kind": "Image",
                                       "relative_path": "images/white-matter-hyperintensities"},
                         "image": {"name": name}, "file": None, "value": None}]})
    if kind == "algorithm":
        write_text_atomic(input_dir / "predictions.json", json.dumps(jobs[::-1], indent=1))


_GC_TEST_RUN = """\
#!/usr/bin/env bash
# Runs the evaluation image on test/ as grand-challenge does (no network, read-only input)
# and compares its metrics.json with test/expected_output/metrics.json.
set -euo pipefail
HERE="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
docker build --tag {tag} "$HERE"
GT="$(mktemp -d)"; OUT="$(mktemp -d)"; chmod 777 "$OUT"
tar -xzf "$HERE/ground_truth.tar.gz" -C "$GT"
docker run --rm --network none --memory 8g \\
  -v "$HERE/test/input":/input:ro -v "$GT":/opt/ml/input/data/ground_truth:ro \\
  -v "$OUT":/output {tag}
python3 - "$OUT/metrics.json" "$HERE/test/expected_output/metrics.json" <<'PY'
import json, math, sys
got, want = (json.load(open(p)) for p in sys.argv[1:])
def same(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a if k != "wmheval")
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9)
    return a == b
sys.exit(0 if same(got["aggregates"], want["aggregates"]) else "metrics differ")
PY
echo "metrics.json as expected"
"""

_GC_SAVE = """\
#!/usr/bin/env bash
# Saves the image as the .tar.gz grand-challenge uploads.
set -euo pipefail
HERE="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
docker build --tag {tag} "$HERE"
docker save {tag} | gzip -c > "$HERE/{tag_file}.tar.gz"
"""


def export_grand_challenge(out: str | Path, reference: str | Path, *,
                           kind: str = "predictions", per_case_admin: bool = False,
                           wheel: str | Path | None = None) -> Path:
    """Write the grand-challenge evaluation method for a phase as one output set.

    ``OUT`` gets: ``Dockerfile`` and ``wheels/`` (the image), ``ground_truth.tar.gz``
    (upload as the phase's ground truth), ``phase-settings.json`` (the Scoring settings),
    ``test/input`` with ``test/expected_output/metrics.json`` (computed by
    :func:`run_grand_challenge` on the test input), ``do_test_run.sh`` and ``do_save.sh``.
    """
    if kind not in ("predictions", "algorithm"):
        raise InputError(f"kind must be predictions or algorithm, not {kind!r}")
    reference = Path(reference)
    files = _reference_files(reference)
    with output_set(Path(out), command="export grand-challenge",
                    inputs={"reference": reference},
                    options={"kind": kind, "per_case": "admin" if per_case_admin else "off"}
                    ) as staging:
        built = _copy_wheel(wheel, staging / "wheels")
        entrypoint = ["wmheval", "platform-run", "grand-challenge"]
        if per_case_admin:
            entrypoint += ["--per-case", "admin"]
        (staging / "Dockerfile").write_text(_GC_DOCKERFILE.format(
            version=__version__, wheel=built.name, entrypoint=json.dumps(entrypoint)))
        _write_tarball(files, staging / "ground_truth.tar.gz")
        settings = platform_report.grand_challenge_phase_settings(
            per_case_admin=per_case_admin, kind=kind)
        (staging / "phase-settings.json").write_text(platform_report.dumps_json(settings))
        _grand_challenge_test_input(reference, staging / "test", kind)
        with tempfile.TemporaryDirectory(prefix="wmheval-gc-test-") as temporary:
            run_grand_challenge(staging / "test" / "input", reference, temporary,
                                      per_case=per_case_admin, jobs=1)
            document = json.loads(Path(temporary, "metrics.json").read_text())
        for column in settings["extra_results_columns"]:
            for key in ("path", "error_path"):
                if key in column:
                    platform_report.dotted_lookup(document, column[key])
        platform_report.dotted_lookup(document, settings["score_jsonpath"])
        expected = staging / "test" / "expected_output" / "metrics.json"
        expected.parent.mkdir(parents=True)
        expected.write_text(platform_report.dumps_json(document))
        tag = f"wmheval-gc-eval-{kind}"
        for name, text in (("do_test_run.sh", _GC_TEST_RUN), ("do_save.sh", _GC_SAVE)):
            path = staging / name
            path.write_text(text.format(tag=tag, tag_file=f"{tag}-{__version__}"))
            path.chmod(0o755)
    return Path(out)


_CODABENCH_PAGES = {
    "overview.md": "# WMH segmentation\n\nSegment white matter hyperintensities; submissions "
                   "are scored by wmheval as the MICCAI 2017 WMH challenge does.\n",
    "evaluation.md": "# Evaluation\n\nSubmit a zip of `<id>/result.nii.gz` (or `<id>.nii.gz`) "
                     "binary masks on each subject's FLAIR grid. Metrics: Dice, H95 (mm), "
                     "AVD (%), lesion recall and lesion F1. The primary column is the "
                     "relative min-max rank score among the 57 teams of the published 2017 "
                     "leaderboard plus the submission (lower is better): a proxy for "
                     "sorting. The official ranking is computed by the organisers with "
                     "wmheval over all submissions.\n",
    "terms.md": "# Terms\n\nThe organisers set the terms of this competition.\n",
}


def _logo_png(size: int = 64) -> bytes:
    """A plain square PNG (the bundle requires an image)."""
    import struct
    import zlib

    row = b"\x00" + bytes([40, 70, 140]) * size
    raw = row * size

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def codabench_command() -> str:
    """The scoring program's command (Codabench runs it in ``docker_image``)."""
    return (f"wmheval platform-run codabench {CODABENCH_REFERENCE} {CODABENCH_PREDICTIONS} "
            f"{CODABENCH_OUTPUT}")


def _zip_folder(folder: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(path.relative_to(folder).as_posix(),
                                       date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, path.read_bytes())


def export_codabench(out: str | Path, reference: str | Path, *,
                     include_reference: bool = False, wheel: str | Path | None = None,
                     docker_image: str | None = None,
                     title: str = "WMH segmentation (scored by wmheval)") -> Path:
    """Write a Codabench competition bundle as one output set.

    ``OUT/bundle/`` (``competition.yaml`` version 2 with ``docker_image``, one phase, one
    task and a leaderboard whose column keys are exactly those ``scores.json`` gets;
    ``scoring_program/metadata.yaml``; pages, terms and logo; ``reference_data/`` only with
    ``include_reference``), ``OUT/bundle.zip`` (upload this), and ``OUT/docker/`` (the
    scoring image's Dockerfile and wheel).
    """
    reference = Path(reference)
    files = _reference_files(reference)
    image = docker_image or f"wmheval-codabench:{__version__}"
    with output_set(Path(out), command="export codabench", inputs={"reference": reference},
                    options={"include_reference": include_reference,
                             "docker_image": image}) as staging:
        bundle = staging / "bundle"
        program = bundle / "scoring_program"
        program.mkdir(parents=True)
        (program / "metadata.yaml").write_text(platform_report.to_yaml(
            {"command": codabench_command()}))
        document = platform_report.competition_document(
            title=title, docker_image=image, with_reference=include_reference)
        (bundle / "competition.yaml").write_text(platform_report.to_yaml(document))
        for name, text in _CODABENCH_PAGES.items():
            (bundle / name).write_text(text)
        (bundle / "logo.png").write_bytes(_logo_png())
        if include_reference:
            for name, path in files:
                target = bundle / "reference_data" / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
        _zip_folder(bundle, staging / "bundle.zip")
        docker = staging / "docker"
        built = _copy_wheel(wheel, docker / "wheels")
        (docker / "Dockerfile").write_text(_CODABENCH_DOCKERFILE.format(
            version=__version__, wheel=built.name))
    return Path(out)


def write_outcome_lines(run: PlatformRun, stream=None) -> None:
    """The organiser's lines, then the participant's sentence last (stderr by default)."""
    stream = stream or sys.stderr
    for line in run.problems:
        print(line, file=stream)
    print(run.sentence, file=stream)
    stream.flush()


__all__ = ["PlatformRun", "codabench_command", "export_codabench", "export_grand_challenge",
           "run_codabench", "run_grand_challenge", "write_outcome_lines"]
