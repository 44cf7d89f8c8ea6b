"""The one adapter between the board and the wmheval library's domain functions.

Scoring a folder into per-case results, ranking a field of per-case tables by the official
rule, and the subject bootstrap all come from the library (``wmheval.scoring``,
``wmheval.ranking``, ``wmheval.analysis.bootstrap``); nothing here re-implements a metric or
the ranking. When the library's command orchestration moves (``wmheval.pipelines``), only
the imports of this module change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy and pandas load only when scoring or ranking (fast start-up)
    import numpy as np
    import pandas as pd

LONG_COLUMNS = ("team", "id", "scanner", "split", "seen_in_training", "status", "dice", "h95",
                "avd", "recall", "f1", "reference_diagonal_mm")
METRIC_UNITS = {"dice": ("Dice", "", True), "h95": ("H95", "mm", False),
                "avd": ("AVD", "%", False), "recall": ("Recall", "", True),
                "f1": ("F1", "", True)}
"""Per metric: label, unit, higher is better (from the library's vocabulary, checked at
import below)."""


def metrics() -> tuple[str, ...]:
    from wmheval.metrics import HIGHER_IS_BETTER, METRICS

    assert all(HIGHER_IS_BETTER[m] == METRIC_UNITS[m][2] for m in METRICS)
    return tuple(METRICS)


def wmheval_version() -> str:
    from wmheval import __version__

    return __version__


def make_policy(missing: str, undefined: str):
    from wmheval.scoring.policy import make_policy as library_make_policy

    return library_make_policy(missing, undefined)


def describe_policy(policy) -> str:
    from wmheval.scoring.policy import describe_policy as library_describe

    return library_describe(policy)


def missing_wording(policy) -> str:
    """How a missing case counts, for the badge ("scored as empty masks")."""
    return {"empty": "scored as empty masks", "worst": "scored as the field's worst values",
            "exclude": "left out of the means"}[policy.missing.value]


def reference_subjects(reference: Path, subjects) -> list[tuple[str, str]]:
    """(id, split) of the reference subjects a phase covers (``all``, ``training``,
    ``test`` or a tuple of ids), sorted as the library sorts them."""
    from wmheval.io.layouts import find_reference_cases
    from wmheval.scoring.folder import resolve_manifest

    cases = find_reference_cases(reference)
    manifest, _, _ = resolve_manifest(reference, None)
    out = []
    for case in cases:
        split = case.split_from_path or ""
        if case.id in manifest.index and manifest.loc[case.id, "split"]:
            split = str(manifest.loc[case.id, "split"])
        out.append((case.id, split))
    if subjects == "all":
        return out
    if isinstance(subjects, str):
        return [(i, s) for i, s in out if s == subjects]
    wanted = set(subjects)
    return [(i, s) for i, s in out if i in wanted]


def reference_digest(reference: Path, subject_ids) -> str:
    """SHA-256 over the phase's reference files (id and content) and the reference's
    shipped manifest, if any."""
    import hashlib

    from wmheval.io.layouts import find_reference_cases
    from wmheval.io.manifest import find_data_manifest
    from wmheval.scoring.cache import content_digest

    wanted = set(subject_ids)
    digest = hashlib.sha256()
    for case in find_reference_cases(reference):
        if case.id in wanted:
            digest.update(f"{case.id}\0{content_digest(case.path)}\n".encode())
    shipped = find_data_manifest(reference)
    if shipped is not None:
        digest.update(f"manifest\0{content_digest(shipped)}\n".encode())
    return digest.hexdigest()


@dataclass
class Scored:
    """One scoring run: the per-case table (the library's cases.csv columns), notes and the
    files that matched no subject."""

    cases: pd.DataFrame
    notes: list[str]
    unmatched: list[str]


def score_submission(reference: Path, submission: Path, out: Path, subjects, *,
                     policy, cache: Path | None) -> Scored:
    """Score ``submission`` against the phase's subjects of ``reference`` as ``wmheval
    score`` does, writing its output set into ``out``; messages name the extracted folder
    ``submission/`` (never the board's temporary folder, which is gone afterwards)."""
    from wmheval.pipelines.score import score_to_dir

    split = subjects if subjects in ("all", "training", "test") else "all"
    result = score_to_dir(reference, submission, out, policy=policy, split=split, jobs=1,
                          cache=cache, name_as="submission")
    cases = result.cases
    if not isinstance(subjects, str):
        cases = cases[cases["id"].astype(str).isin(set(subjects))].reset_index(drop=True)
    unmatched = [f"{row['path']}: {row['problem']}" for _, row in result.unmatched.iterrows()]
    return Scored(cases, list(result.notes), unmatched)


@dataclass
class Ranked:
    """The official ranking of a field and, for the bootstrap, the field itself."""

    table: pd.DataFrame
    field: object


def rank_cases(cases: pd.DataFrame, policy) -> Ranked:
    """Rank a long per-case table (``team, id, status, scanner, split, seen_in_training``
    and the metrics) exactly as ``wmheval rank`` ranks a folder of team ``cases.csv``."""
    from wmheval.ranking import rank_field
    from wmheval.ranking.inputs import field_from_cases

    field = field_from_cases(cases, "all", policy=policy, source="board")
    return Ranked(rank_field(field), field)


def relative_score(means: np.ndarray, field_means: np.ndarray) -> float:
    """A baseline's rank score on the participants' scale: the min-max rule with the
    participants' best and worst means as bounds (so the baseline moves no one), weighted
    with the library's weights. Can fall outside [0, 1]: a baseline better than every
    participant on a metric scores below 0 on it."""
    import numpy as np

    from wmheval.ranking.minmax import higher_is_better, normalise_weights, weighted_scores

    higher = higher_is_better(metrics())
    oriented_field = np.where(higher, -field_means, field_means)
    oriented = np.where(higher, -means, means)
    best = np.nanmin(oriented_field, axis=0)
    worst = np.nanmax(oriented_field, axis=0)
    span = worst - best
    rel = np.where(span > 0, (oriented - best) / np.where(span > 0, span, 1.0), 0.0)
    rel = np.where(np.isnan(rel), 1.0, rel)
    return float(weighted_scores(rel, normalise_weights(None, metrics())))


def bootstrap(field, n_resamples: int, seed: int):
    """The library's subject bootstrap of the official ranking (positions per resample)."""
    from wmheval.analysis.bootstrap import field_bootstrap

    return field_bootstrap(field, n_resamples=n_resamples, seed=seed)


def policy_markdown_to_html(text: str) -> str:
    """The library's small Markdown renderer (escapes everything)."""
    from wmheval.io.htmlpage import markdown_html

    return markdown_html(text)


def page_assets() -> tuple[str, str]:
    """The library's inline stylesheet and table sorter (one look for every page)."""
    from wmheval.io.htmlpage import CSS, SORT_JS

    return CSS, SORT_JS
