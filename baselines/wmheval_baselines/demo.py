"""One call for the demo: train a small CPU baseline on the small synthetic challenge with
the ``demo`` recipe, then predict its test subjects into a submission folder."""

from __future__ import annotations

from pathlib import Path

from wmheval_baselines.predict import predict_folder
from wmheval_baselines.train import config_from_recipe, train


def train_and_predict(challenge_root: str | Path, out_dir: str | Path, *,
                      model: str = "resunet", recipe: str = "demo",
                      seconds: float | None = None, seed: int = 0, device: str = "cpu",
                      split: str = "challenge", console=None, **overrides) -> Path:
    """Train ``model`` with ``recipe`` on ``challenge_root``'s training subjects (run folder
    ``out_dir/run``), predict the split's subjects into ``out_dir/submission`` and return
    that folder (``<id>/result.nii.gz``).

    The schedule is a fixed number of samples, so results do not depend on the machine's
    speed. ``seconds`` caps the training time; a run stopped by it is incomplete and its
    prediction warns loudly. ``overrides``: TrainConfig fields. The run is fresh each call.
    """
    out_dir = Path(out_dir)
    config = config_from_recipe(model, recipe, data=str(challenge_root), split=split,
                                seed=seed, device=device,
                                max_seconds=None if seconds is None else float(seconds),
                                **overrides)
    run = train(config, out_dir / "run", resume=False, console=console)
    return predict_folder(run, challenge_root, out_dir / "submission", device=device,
                          allow_incomplete=seconds is not None, console=console)
