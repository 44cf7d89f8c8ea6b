"""``wmheval report`` (and the pages of ``wmheval sensitivity``): the ranking analysis and
the HTML report of a field, as one output set."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from wmheval.io.outputs import output_set
from wmheval.pipelines.inputs import Addition, Note, input_paths, load_team_field
from wmheval.ranking.inputs import Field
from wmheval.report import make_provenance, write_report
from wmheval.report.provenance import Provenance

ONE_TEAM_NOTE = ("a field of one team: its results are reported, without the comparisons "
                 "that need two teams (other ranking schemes, weight sweep, bootstrap of "
                 "ranks, Kendall's tau, significance tests, field dependence)")
"""The note a field of one team gets (notes.md and the report's leaderboard section)."""


def write_field_report(field: Field, out: str | Path, *, analysis: bool = True,
                       reference: str | Path | None = None,
                       predictions: str | Path | None = None,
                       extra_sets: Sequence[str | Path] = (),
                       provenance: Provenance | None = None, title: str | None = None,
                       overlays: bool = True,
                       progress: Callable[[str], None] | None = None,
                       on_note: Note | None = None,
                       on_result: Callable | None = None,
                       **analysis_options) -> list[Path]:
    """Write the report of ``field`` into the folder ``out``; returns the files written.

    ``analysis``: first write the ranking analysis
    (:func:`wmheval.pipelines.sensitivity.write_ranking_report`, ``analysis_options``:
    bootstrap, seed, samples, grid_steps, weights, alpha, figures, ties, p_adjust) into
    ``out``; otherwise use the ``figures.json`` already there, if any. The other arguments
    are :func:`wmheval.report.write_report`'s; ``on_note`` hears the analysis's notes
    (e.g. what the size bounds left out).
    """
    from wmheval.pipelines.sensitivity import write_ranking_report
    from wmheval.report.figuresets import read_figure_set

    for folder in extra_sets:  # sets from others are checked before any work
        read_figure_set(Path(folder))
    if len(field.teams) == 1:
        field = replace(field, notes=(*field.notes, ONE_TEAM_NOTE))
    written: list[Path] = []
    if analysis:
        written += [p for p, _ in write_ranking_report(field, out, progress=progress,
                                                       on_note=on_note, on_result=on_result,
                                                       **analysis_options)]
    return written + write_report(field, out, reference=reference, predictions=predictions,
                                  extra_sets=extra_sets, provenance=provenance, title=title,
                                  overlays=overlays, progress=progress,
                                  weights=analysis_options.get("weights"))


def report_to_dir(source: str | Path, out: str | Path, *, command: str = "report",
                  command_line: str | None = None, teams: Sequence[str] | None = None,
                  add: Sequence[Addition] = (), split: str = "all",
                  missing: str | None = None, undefined: str | None = None, policy=None,
                  manifest=None, on_note: Note | None = None,
                  reference: str | Path | None = None, predictions: str | Path | None = None,
                  extra_sets: Sequence[str | Path] = (), title: str | None = None,
                  progress: Callable[[str], None] | None = None,
                  allow_mixed_scoring: bool = False, on_result: Callable | None = None,
                  **analysis_options) -> list[Path]:
    """What ``wmheval report`` and ``wmheval sensitivity`` do: load a field like ``wmheval
    rank`` (:func:`~wmheval.pipelines.inputs.load_team_field`), write its analysis and
    report (:func:`write_field_report`) as one output set of ``command``, with provenance
    (``command_line`` as typed, the inputs' hashes, the options). Returns the files
    written (final paths)."""
    out = Path(out)
    inputs = input_paths(source, add, reference=reference, predictions=predictions,
                         manifest=manifest)
    for k, folder in enumerate(extra_sets, start=1):
        inputs[f"extra_{k}"] = Path(folder)
    options = {"split": split, "missing": missing, "undefined": undefined,
               "teams": list(teams or []), **analysis_options}
    if allow_mixed_scoring:
        options["allow_mixed_scoring"] = True
    with output_set(out, command=command, inputs=inputs, options=options,
                    public_paths=True) as staging:
        if progress is not None:
            progress("loading")
        provenance = make_provenance(command_line or f"wmheval {command}", inputs, options)
        field = load_team_field(source, teams=teams, add=add, split=split, missing=missing,
                                undefined=undefined, policy=policy, manifest=manifest,
                                on_note=on_note, allow_mixed_scoring=allow_mixed_scoring)
        written = write_field_report(field, staging, reference=reference,
                                     predictions=predictions, extra_sets=extra_sets,
                                     provenance=provenance, title=title, progress=progress,
                                     on_note=on_note, on_result=on_result,
                                     **analysis_options)
    return [out / Path(p).relative_to(staging) if Path(p).is_relative_to(staging) else Path(p)
            for p in written]
