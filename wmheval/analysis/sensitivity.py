"""The ranking-sensitivity analysis of a field, as one result object.

:func:`analyse_sensitivity` computes everything ``wmheval sensitivity`` reports (the official
ranking, leave-one-team-out field dependence, the metric-weight sweep, the ranking schemes
side by side, and with per-case results the bootstrap over subjects and the Wilcoxon
significance tests) and returns a :class:`SensitivityResult`. It writes nothing: the
pipeline (:mod:`wmheval.pipelines.sensitivity`) writes its tables and draws its figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from wmheval.analysis.bootstrap import BootstrapResult, field_bootstrap
from wmheval.analysis.field_dependence import FieldDependence, field_dependence
from wmheval.analysis.weights import WeightSensitivity, field_weight_sensitivity, tau_summary
from wmheval.metrics import METRICS
from wmheval.ranking.inputs import Field
from wmheval.ranking.leaderboard import rank_field
from wmheval.ranking.minmax import higher_is_better
from wmheval.ranking.schemes import available_schemes, compare_schemes
from wmheval.ranking.significance import significance_counts, wilcoxon_wins

MAX_PAIRWISE_TEAMS = 200
"""Above this many teams the pairwise tests (test-based scheme, significance counts and
map: teams squared x cases) are skipped with a note (``--max-teams-tests`` of the CLI)."""
MAX_FIGURE_TEAMS = 100
"""Above this many teams no figures are drawn (one column or row per team would be
unreadable and slow), with a note (``--max-teams-figures`` of the CLI)."""


def size_limits(field: Field, max_pairwise_teams: int = MAX_PAIRWISE_TEAMS,
                max_figure_teams: int = MAX_FIGURE_TEAMS) -> tuple[bool, bool, list[str]]:
    """(run the pairwise tests, draw figures, notes) for a field of this many teams."""
    n = len(field.teams)
    tests, figures, notes = n <= max_pairwise_teams, n <= max_figure_teams, []
    if not tests:
        notes.append(f"{n} teams: the pairwise tests (test-based scheme, significance "
                     f"counts) are skipped above {max_pairwise_teams} teams (their cost "
                     "grows with teams squared x cases); raise --max-teams-tests to run them")
    if not figures:
        notes.append(f"{n} teams: no figures above {max_figure_teams} teams (one column per "
                     "team would be unreadable); raise --max-teams-figures to draw them")
    return tests, figures, notes


def sweep_note(field: Field, samples: int, grid_steps: int) -> str:
    """The note of a weight sweep that will be cut to the memory bound, or ''."""
    from wmheval.analysis.weights import MAX_SWEEP_CELLS
    from wmheval.analysis.weights import simplex_grid as grid_of

    n_grid = grid_of(grid_steps, len(METRICS)).shape[1] if grid_steps else 0
    room = MAX_SWEEP_CELLS // max(len(field.teams), 1) - n_grid
    if samples > max(room, 1000):
        return (f"weight sweep: {max(room, 1000)} random weightings instead of {samples} "
                f"for {len(field.teams)} teams (memory bound: teams x weightings at most "
                f"{MAX_SWEEP_CELLS:,})")
    return ""



@dataclass(frozen=True)
class SensitivityResult:
    """Every number of the sensitivity analysis of one field.

    Per-case parts (``bootstrap``, ``bootstrap_tau``, ``significance``, ``wins``) are None
    for a field of means only (e.g. the published leaderboard) and for a field of one team
    (there is nothing to compare it with; :attr:`comparisons` is then False).
    """

    field: Field
    """The analysed field."""
    ranking: pd.DataFrame
    """The official ranking (:func:`wmheval.ranking.rank_field`), best first."""
    dependence: FieldDependence
    """Leave one team out: which pairs of the other teams swap."""
    weights: WeightSensitivity
    """The metric-weight sweep over the simplex (random, grid and named weightings)."""
    weights_tau: pd.DataFrame
    """Kendall tau between each weighting's ranking and the default one."""
    schemes: pd.DataFrame
    """Positions and scores under every ranking scheme (and the published position, for a
    published field), rows in official order."""
    scheme_names: list[str]
    """The position columns of ``schemes``, in the order figures show them."""
    bootstrap: BootstrapResult | None
    """Rank distribution over bootstrap resamples of the subjects."""
    bootstrap_tau: pd.DataFrame | None
    """One row: number of resamples, mean, median, 5 % quantile and minimum of Kendall's
    tau between the bootstrap rankings and the full-data ranking."""
    significance: pd.DataFrame | None
    """Per team: how many teams it beats significantly per metric (``beats_<metric>``) and
    in all (``beats_total``), most wins first."""
    wins: dict[str, np.ndarray] | None
    """Per metric: (teams, teams) bool, ``[i, j]`` = team i beats team j, teams in the
    order of ``ranking``."""
    alpha: float
    """Significance level of the tests."""
    p_adjust: str
    """Multiple-testing adjustment of the tests (``holm`` or ``none``)."""
    n_resamples: int
    """Bootstrap resamples asked for."""
    limit_notes: tuple[str, ...] = ()
    """What the size bounds left out or cut for this many teams (also in ``field.notes``)."""
    draw_figures: bool = True
    """False above ``max_figure_teams`` teams: no figures are drawn."""

    @property
    def comparisons(self) -> bool:
        """Whether the field has the two teams the comparisons need (a bootstrap of ranks,
        Kendall's tau, significance tests, swaps, other schemes)."""
        return len(self.field.teams) >= 2

    @property
    def label(self) -> str:
        """The subject set in words (``all subjects`` or ``split unseen``)."""
        return f"split {self.field.split}" if self.field.split != "all" else "all subjects"


def analyse_sensitivity(field: Field, *, bootstrap: int = 1000, seed: int = 0,
                        samples: int = 100_000, grid_steps: int = 10, weights=None,
                        alpha: float = 0.05, ties: str = "min", p_adjust: str = "holm",
                        progress: Callable[[str], None] | None = None,
                        max_pairwise_teams: int = MAX_PAIRWISE_TEAMS,
                        max_figure_teams: int = MAX_FIGURE_TEAMS) -> SensitivityResult:
    """The ranking-sensitivity analysis of ``field`` (see :class:`SensitivityResult`).

    ``bootstrap``: resamples of the subjects (per-case fields); ``samples``: random
    Dirichlet weightings and ``grid_steps`` the simplex grid resolution of the weight
    sweep; ``seed`` seeds both; ``weights``: the weights of the ranking analysed (None:
    equal); ``alpha``, ``p_adjust``: the Wilcoxon tests; ``ties``: ties of the rank-based
    schemes (``min``, challengeR's default, or ``average``). ``progress(message)`` hears
    each step. Above ``max_pairwise_teams`` teams the pairwise tests (test-based scheme,
    significance) are skipped, above ``max_figure_teams`` no figures are to be drawn, and a
    weight sweep too large for memory is cut (issue 33 item 6); each is a note in
    ``limit_notes`` and the field's notes.
    """
    step = progress or (lambda _message: None)
    run_tests, draw, limit_notes = size_limits(field, max_pairwise_teams, max_figure_teams)
    note = sweep_note(field, samples, grid_steps)
    limit_notes += [note] if note else []
    if limit_notes:
        field = replace(field, notes=tuple(field.notes) + tuple(limit_notes))
    step("official ranking")
    ranking = rank_field(field, weights)
    step("field dependence (leave one team out)")
    dependence = field_dependence(field, weights)
    step("weight sweep")
    sweep = field_weight_sensitivity(field, n_samples=samples, grid_steps=grid_steps,
                                     seed=seed)
    step("ranking schemes")
    scheme_names = [name for name in available_schemes(field)
                    if run_tests or name != "test_based"]
    schemes = compare_schemes(field, schemes=scheme_names, alpha=alpha, ties=ties,
                              p_adjust=p_adjust)
    if field.published is not None and "published_position" in field.published:
        published = field.published["published_position"].reindex(schemes["team"])
        schemes.insert(1, "published", published.to_numpy())
        scheme_names.insert(0, "published")
    boot = boot_tau = significance = wins = None
    if field.has_cases and len(field.teams) >= 2:
        step(f"bootstrap ({bootstrap} resamples)")
        boot = field_bootstrap(field, bootstrap, seed, weights)
        taus = boot.tau
        boot_tau = pd.DataFrame([{
            "n_resamples": len(taus), "mean_tau": float(np.nanmean(taus)),
            "median_tau": float(np.nanmedian(taus)),
            "q05_tau": float(np.nanquantile(taus, 0.05)), "min_tau": float(np.nanmin(taus)),
        }])
        if run_tests:
            step("significance tests")
            counts = significance_counts(field.cube.values, higher_is_better(METRICS), alpha,
                                         p_adjust)
            significance = pd.DataFrame(counts, columns=[f"beats_{m}" for m in METRICS])
            significance.insert(0, "team", list(field.teams))
            significance["beats_total"] = counts.sum(axis=1)
            significance = significance.sort_values(["beats_total", "team"],
                                                    ascending=[False, True])
            index = [list(field.teams).index(t) for t in ranking["team"]]
            values = field.cube.values[index]
            wins = {m: wilcoxon_wins(values[:, :, k], bool(higher_is_better([m])[0]), alpha,
                                     p_adjust) for k, m in enumerate(METRICS)}
    return SensitivityResult(
        field=field, ranking=ranking, dependence=dependence, weights=sweep,
        weights_tau=tau_summary(sweep) if len(field.teams) >= 2 else pd.DataFrame(),
        schemes=schemes, scheme_names=scheme_names,
        bootstrap=boot, bootstrap_tau=boot_tau, significance=significance, wins=wins,
        alpha=alpha, p_adjust=p_adjust, n_resamples=bootstrap,
        limit_notes=tuple(limit_notes), draw_figures=draw)
