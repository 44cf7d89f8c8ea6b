"""``wmheval baseline train|predict|threshold``, and the one place where the library reaches
the optional baselines application.

``wmheval_baselines`` (``baselines/``, installed with the ``baselines`` extra; it brings
torch) is an application on top of the library: nothing else under ``wmheval/`` imports
it. This module is the documented plug-in point (``docs/architecture.md``): every import of
``wmheval_baselines`` here is lazy, inside a function, after :func:`require_baselines`, so
``wmheval`` starts and runs without torch. ``tests/test_architecture.py`` enforces it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from wmheval.errors import InputError

INSTALL_HINT = 'pip install torch==2.13.0 && pip install "wmheval[baselines]"'


class BaselinesUnavailable(InputError, RuntimeError):
    """torch or the wmheval_baselines package is not installed (a usage error: exit 2)."""


def torch_available() -> bool:
    """Whether the optional baselines extra (torch and wmheval_baselines) is installed."""
    return importlib.util.find_spec("torch") is not None and \
        importlib.util.find_spec("wmheval_baselines") is not None


def require_baselines() -> None:
    """Raise :class:`BaselinesUnavailable` with the install command when torch is missing."""
    for module in ("torch", "skimage", "wmheval_baselines"):
        if importlib.util.find_spec(module) is None:
            raise BaselinesUnavailable(
                f"the baselines need '{module}', which is not installed: run {INSTALL_HINT}")


def train_baseline(model: str, data: str | Path, out: str | Path, *, recipe: str = "paper",
                   split: str = "challenge", resume: bool = True, console=None,
                   **overrides) -> Path:
    """Train baseline ``model`` (resunet | flair-fcn | fcn-vgg) on ``data`` into run folder
    ``out`` with the named ``recipe``; ``overrides`` (TrainConfig fields, None = recipe's
    value) change single settings, e.g. ``samples``, ``beta``, ``learning_rate``."""
    require_baselines()
    from wmheval_baselines.train import config_from_recipe, train

    for key in ("vgg_weights", "wm_masks"):
        if overrides.get(key) is not None:
            overrides[key] = str(overrides[key])
    config = config_from_recipe(model, recipe, data=str(data), split=split, **overrides)
    return train(config, out, resume=resume, console=console)


def predict_baseline(run: str | Path, data: str | Path, out: str | Path, *,
                     device: str = "auto", allow_incomplete: bool = False,
                     cpu_bf16: bool = False, console=None) -> Path:
    """Predict the run's split of ``data`` into the submission folder ``out``; ``run`` is a
    run folder or a bundled model's name (``demo:resunet``, ``demo:fcn-vgg``;
    :func:`bundled_models`). ``cpu_bf16``: bf16 autocast on the CPU, opt-in, about 2x
    faster where native."""
    require_baselines()
    from wmheval_baselines.predict import predict_folder

    return predict_folder(run, data, out, device=device, allow_incomplete=allow_incomplete,
                          cpu_bf16=cpu_bf16, console=console)


def bundled_models() -> tuple[str, ...]:
    """Names of the models shipped with ``wmheval_baselines`` (``demo:resunet``, ...);
    empty without the baselines extra. Trained on synthetic data: no use on real scans."""
    if not torch_available():
        return ()
    from wmheval_baselines.bundled import bundled_names

    return bundled_names()


def bundled_provenance(name: str) -> dict:
    """The manifest entry of bundled model ``name``: file, sha256, command, recipe, data
    seed, wmheval version, git commit, training time."""
    require_baselines()
    from wmheval_baselines.bundled import bundled_entry

    return bundled_entry(name)


def threshold_baseline(data: str | Path, out: str | Path, *, split: str = "challenge",
                       wm_masks: str | Path | None = None, console=None):
    """Fit the FLAIR z-score threshold on the training subjects and predict the split;
    returns the fit (``threshold``, ``dilation_mm``, ...), written beside ``out``
    (:func:`threshold_fit_path`)."""
    require_baselines()
    from wmheval_baselines.threshold import threshold_baseline as run

    return run(data, out, split=split, wm_masks=wm_masks, console=console)


def threshold_fit_path(submission: str | Path) -> Path:
    """Where :func:`threshold_baseline` writes its fit: beside the submission folder."""
    require_baselines()
    from wmheval_baselines.threshold import fit_path

    return fit_path(submission)


def train_and_predict(challenge: str | Path, out: str | Path, *, model: str = "resunet",
                      recipe: str = "demo", seconds: float | None = None, seed: int = 0,
                      **overrides) -> Path:
    """Train ``model`` on the challenge's training subjects (run folder ``out/run``) and
    predict the test subjects into ``out/submission``; returns that folder (the demo's
    learned baseline; :func:`wmheval_baselines.demo.train_and_predict`)."""
    require_baselines()
    from wmheval_baselines.demo import train_and_predict as run

    return run(challenge, out, model=model, recipe=recipe, seconds=seconds, seed=seed,
               **overrides)
