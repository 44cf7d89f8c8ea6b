"""One call for the demo: train a small CPU baseline on the small synthetic challenge within
a time budget, then predict its test subjects into a submission folder."""

from __future__ import annotations

from pathlib import Path

from wmheval_baselines.predict import predict_folder
from wmheval_baselines.train import TrainConfig, train

# Small-network settings for CPU runs on the small synthetic challenge (~60x60 slices).
SMALL_SETTINGS = {"base_channels": 8, "wm_base_channels": 8, "fcn_k": 8, "batch_size": 8,
                  "learning_rate": 2e-3}


def train_and_predict(challenge_root: str | Path, out_dir: str | Path, *,
                      model: str = "resunet", epochs: int = 20, wm_epochs: int = 3,
                      seconds: float | None = 300, seed: int = 0,
                      device: str = "cpu", split: str = "challenge", beta: float | None = 0.975,
                      console=None) -> Path:
    """Train ``model`` on ``challenge_root``'s training subjects (run folder ``out_dir/run``),
    predict the split's subjects into ``out_dir/submission`` and return that folder
    (``<id>/result.nii.gz``).

    Trains a fixed number of epochs (``wm_epochs`` for the white-matter U-Net, then
    ``epochs``), so results do not depend on the machine's speed; ``seconds`` is only a
    safety cap. Uses narrow networks (8 base channels) and a larger learning rate than the
    paper's defaults; the run is not resumed (fresh each call).
    ``beta`` (ResU-Net loss): the paper's value 0.975 by default; ``None`` computes it from
    the training labels (~0.999 on the small synthetic data, which over-segments).
    """
    out_dir = Path(out_dir)
    config = TrainConfig(model=model, data=str(challenge_root), split=split, seed=seed,
                         device=device, epochs=epochs, wm_epochs=wm_epochs if model == "resunet"
                         else 0, max_seconds=None if seconds is None else float(seconds),
                         wm_time_fraction=0.25, beta=beta,
                         **SMALL_SETTINGS)
    run = train(config, out_dir / "run", resume=False, console=console)
    return predict_folder(run, challenge_root, out_dir / "submission", device=device,
                          console=console)
