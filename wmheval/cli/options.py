"""Every option that more than one command takes, declared once (``typing.Annotated``
aliases with one help text each), and the choice enums, built from the domain's tuples in
:mod:`wmheval.vocabulary` (``tests/test_vocabulary.py`` ties each enum to its tuple).

Start-up stays light: this module imports typer, the standard library and the vocabulary;
the one parser that needs numbers (``--weights``) imports nothing heavier.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from wmheval import vocabulary as vocab
from wmheval.scoring.policy import DEFAULT_POLICY, MissingPolicy, UndefinedPolicy


def choice_enum(name: str, values: tuple[str, ...], doc: str) -> type[StrEnum]:
    """A StrEnum whose values are ``values`` (member names with ``-`` as ``_``)."""
    enum = StrEnum(name, {v.replace("-", "_").replace(":", "_"): v for v in values})
    enum.__doc__ = doc
    return enum


ScoreSplit = choice_enum("ScoreSplit", vocab.SCORE_SPLITS, "Reference subjects to score.")
SynthSplit = choice_enum("SynthSplit", vocab.SYNTH_SPLITS, "Subjects the teams predict.")
Ties = choice_enum("Ties", vocab.TIES, "Ties in the rank-based schemes.")
PAdjust = choice_enum("PAdjust", vocab.P_ADJUST, "Multiple-testing adjustment.")
Scale = choice_enum("Scale", (*vocab.VOLUME_SCALES, "both"), "Volume scale of the statistics.")
Phantom = choice_enum("Phantom", vocab.PHANTOMS, "Which synthetic subjects to draw.")

__all__ = ["DEFAULT_POLICY", "MissingPolicy", "UndefinedPolicy"]

# --- Validators of open choices -------------------------------------------------------------


def binarize_rule(text: str | None) -> str | None:
    """``--binarize``: official, nonzero or threshold:T (T a finite number); anything else is
    a usage error that lists the rules. None (left out) stays None where a command allows it."""
    if text is None:
        return None
    try:
        return vocab.check_binarize_rule(text)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


def parse_weights(text: str | None):
    """Weights from the command line: ``"1,1,1,1,2"`` (metric order dice, h95, avd,
    recall, f1) or ``"dice=2,f1=1"`` (named; others 0). None or empty: equal weights.
    A ValueError names what cannot be read."""
    if text is None or not text.strip():
        return None
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        if all("=" in p for p in parts):
            return {k.strip(): float(v) for k, v in (p.split("=", 1) for p in parts)}
        return [float(p) for p in parts]
    except ValueError as error:
        raise ValueError(f"cannot read weights {text!r}: {error}") from error


# --- Help texts -----------------------------------------------------------------------------

OUT_SET_HELP = ("Output folder, written as one set with a wmheval_manifest.json: replaced "
                "whole when the command succeeds, left as it was when it fails.")
QUIET_HELP = "Print no progress, tables or file lists (errors and problems still go to stderr)."
JOBS_HELP = "Worker processes (0: all cores; a negative number is refused, exit 2)."
ALLOW_MIXED_HELP = ("Rank teams whose score folders record another reference or another "
                    "--binarize rule (refused by default, exit 2); the outputs then carry a "
                    "warning naming them.")
SEED_HELP = "Random seed: the same seed gives the same result."
MISSING_HELP = ("Missing or failed predictions count as: empty (an empty mask, the default), "
                "worst (the field's worst value), exclude (left out).")
UNDEFINED_HELP = ("Undefined values (H95 of an empty prediction, Dice of two empty masks) "
                  "count as: fixed (per-case values, the default: two empty masks agree "
                  "perfectly, H95 = reference extent diagonal), worst, exclude.")
SCORE_MANIFEST_HELP = ("Subject manifest CSV (id, split, scanner, seen_in_training) mapping "
                       "subject ids to scanners (default: the bundled 170-subject one, for "
                       "subjects whose image grid it records).")
FIELD_MANIFEST_HELP = ("Subject manifest CSV (id, split, scanner, seen_in_training) for "
                       "per-case tables without those columns (default: they are 'unknown').")
FIELD_INPUT_HELP = ("A table of team means (e.g. leaderboard/wmh2017_leaderboard.csv), a "
                    "folder of team folders each holding a wmheval score cases.csv, or a "
                    "per-case CSV with a 'team' column.")
RANK_SPLIT_HELP = (f"Subjects to rank on: {', '.join(vocab.RANK_SPLITS)}, or a scanner key "
                   "such as amsterdam_ge_1p5t (per-case inputs only, except 'all').")
TEAM_NAMES_HELP = "Only these teams (added teams always stay)."
TEAMS_FILE_HELP = "File with team names to keep, one per line (# comments allowed)."
ADD_HELP = "Insert a team: a wmheval score output folder or its cases.csv (repeatable)."
ADD_NAME_HELP = "Name of the team inserted by the matching --add (default: its folder name)."
BOOTSTRAP_HELP = "Bootstrap resamples of the subjects (per-case inputs; 0: none)."
WEIGHTINGS_HELP = "Random Dirichlet weightings in the metric-weight sweep."
GRID_STEPS_HELP = "Simplex grid resolution of the weight sweep (weights in multiples of 1/steps)."
ALPHA_HELP = "Significance level of the Wilcoxon tests."
TIES_HELP = ("Ties in mean_rank, median_rank and rank_then_aggregate: min (challengeR's "
             "default) or average.")
P_ADJUST_HELP = "test_based: holm (default) or none (challengeR's default)."
NO_FIGURES_HELP = "Tables only: draw no figures."
BINARIZE_HELP = ("Binarisation of the predictions: " + vocab.BINARIZE_HELP + ".")
DEVICE_HELP = "Where the networks run: auto, cpu, cuda, cuda:1 ..."
WM_MASKS_HELP = "Folder of <id>.nii.gz or <id>/wm_mask.nii.gz white-matter masks."
BASELINE_SPLIT_HELP = "challenge (train on training/, predict test/) or loso:<scanner>."
TITLE_HELP = "Title of the report or figure."

# --- The aliases ----------------------------------------------------------------------------

OutSet = Annotated[Path, typer.Option("--out", "-o", help=OUT_SET_HELP)]
OptionalOutSet = Annotated[Path | None, typer.Option("--out", "-o", help=OUT_SET_HELP)]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help=QUIET_HELP)]
Jobs = Annotated[int, typer.Option("--jobs", "-j", min=0, help=JOBS_HELP)]
AllowMixedScoring = Annotated[bool, typer.Option("--allow-mixed-scoring",
                                                 help=ALLOW_MIXED_HELP)]
Seed = Annotated[int, typer.Option("--seed", help=SEED_HELP)]
Missing = Annotated[MissingPolicy, typer.Option("--missing", help=MISSING_HELP)]
Undefined = Annotated[UndefinedPolicy, typer.Option("--undefined", help=UNDEFINED_HELP)]
ScoreManifest = Annotated[Path | None, typer.Option("--manifest", help=SCORE_MANIFEST_HELP)]
FieldManifest = Annotated[Path | None, typer.Option("--manifest", help=FIELD_MANIFEST_HELP)]
FieldInput = Annotated[Path, typer.Argument(metavar="INPUT", help=FIELD_INPUT_HELP)]
TeamNames = Annotated[list[str] | None, typer.Argument(metavar="[TEAM]...",
                                                      help=TEAM_NAMES_HELP)]
TeamsFile = Annotated[Path | None, typer.Option("--teams", help=TEAMS_FILE_HELP)]
ScoreTeams = Annotated[bool, typer.Option(
    "--teams", help="SUBMISSION is a folder of team submissions (<team>/<id>/result.nii.gz, "
                    "or <team>.zip): score every team, all cases in one pool of --jobs "
                    "workers, into --out/<team>/ each, plus the combined "
                    "teams_summary.csv; rank, sensitivity and report read --out as the "
                    "field.")]
Add = Annotated[list[Path] | None, typer.Option("--add", help=ADD_HELP)]
AddName = Annotated[list[str] | None, typer.Option("--name", help=ADD_NAME_HELP)]
RankSplit = Annotated[str, typer.Option("--split", help=RANK_SPLIT_HELP)]
Bootstrap = Annotated[int, typer.Option("--bootstrap", help=BOOTSTRAP_HELP)]
Weightings = Annotated[int, typer.Option("--samples", help=WEIGHTINGS_HELP)]
GridSteps = Annotated[int, typer.Option("--grid-steps", help=GRID_STEPS_HELP)]
Alpha = Annotated[float, typer.Option("--alpha", help=ALPHA_HELP)]
TiesOption = Annotated[Ties, typer.Option("--ties", help=TIES_HELP)]
PAdjustOption = Annotated[PAdjust, typer.Option("--p-adjust", help=P_ADJUST_HELP)]
NoFigures = Annotated[bool, typer.Option("--no-figures", help=NO_FIGURES_HELP)]
MaxTeamsTests = Annotated[int, typer.Option(
    "--max-teams-tests", help="Skip the pairwise tests (test-based scheme, significance) "
    "above this many teams: their cost grows with teams squared.")]
MaxTeamsFigures = Annotated[int, typer.Option(
    "--max-teams-figures", help="Draw no figures above this many teams.")]
Binarize = Annotated[str, typer.Option("--binarize", callback=binarize_rule,
                                       help=BINARIZE_HELP)]
ScoreBinarize = Annotated[str | None, typer.Option(
    "--binarize", callback=binarize_rule,
    help=BINARIZE_HELP[:-1] + ". Left out: official, and a prediction it would misread (a "
    "0-255 or 0-100 probability map, a 0/255 uint8 mask) fails with the fix in its message.")]
Device = Annotated[str, typer.Option("--device", help=DEVICE_HELP)]
WmMasks = Annotated[Path | None, typer.Option("--wm-masks", help=WM_MASKS_HELP)]
BaselineSplit = Annotated[str, typer.Option("--split", help=BASELINE_SPLIT_HELP)]
Title = Annotated[str | None, typer.Option("--title", help=TITLE_HELP)]
