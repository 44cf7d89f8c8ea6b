"""A tiny release-layout data set for the baselines' tests: 32x32x4 grids, an ellipsoid of
white matter inside a brain ellipsoid, spherical lesions (label 1, bright on FLAIR) inside
the white matter and one small ignored region (label 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

TINY_LAYOUT = {
    "training/Utrecht": ["0", "2"],
    "training/Singapore": ["50", "52"],
    "training/Amsterdam/GE3T": ["100", "101"],
    "test/Utrecht": ["1"],
    "test/Amsterdam/GE1T5": ["140"],
    "test/Amsterdam/Philips_VU .PETMR_01.": ["160"],
}
TINY_TRAINING = {"base_channels": 4, "wm_base_channels": 4, "batch_size": 4,
                 "learning_rate": 3e-3, "device": "cpu"}
"""TrainConfig settings that train the tests' networks in seconds on the CPU."""
SPACING = (1.0, 1.0, 3.0)
DIRECTION = (-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


def _write(array: np.ndarray, path: Path, origin: tuple[float, float, float]) -> None:
    image = sitk.GetImageFromArray(array.astype(np.float32))
    image.SetSpacing(SPACING)
    image.SetOrigin(origin)
    image.SetDirection(DIRECTION)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path))


def tiny_subject(rng: np.random.Generator, shape=(4, 32, 32)) -> dict[str, np.ndarray]:
    """Arrays (z, y, x) of one synthetic subject: flair, t1, wmh labels, wm mask."""
    z, y, x = np.meshgrid(*(np.arange(n, dtype=float) for n in shape), indexing="ij")
    cz, cy, cx = (np.array(shape) - 1) / 2
    brain = ((y - cy) / 14) ** 2 + ((x - cx) / 12) ** 2 + ((z - cz) / 3) ** 2 <= 1
    wm = ((y - cy) / 9) ** 2 + ((x - cx) / 7.5) ** 2 + ((z - cz) / 2.5) ** 2 <= 1
    wmh = np.zeros(shape, np.float32)
    inside = np.argwhere(wm & (np.abs(z - cz) < 1))
    for _ in range(3):
        pz, py, px = inside[rng.integers(len(inside))]
        sphere = ((y - py) ** 2 + (x - px) ** 2 <= rng.uniform(2.0, 3.5) ** 2) & (z == pz)
        wmh[sphere & wm] = 1
    ignored = (np.abs(y - cy - 11) < 1.5) & (np.abs(x - cx) < 1.5) & brain & (wmh == 0)
    wmh[ignored] = 2
    noise = rng.normal(0, 0.03, (2, *shape))
    t1 = np.where(brain, 0.5, 0.0) + np.where(wm, 0.3, 0.0) - 0.2 * (wmh == 1) + noise[0]
    flair = np.where(brain, 0.4, 0.0) - np.where(wm, 0.05, 0.0) + 0.6 * (wmh == 1) + noise[1]
    scale = rng.uniform(200, 800)
    return {"flair": (flair * scale).clip(0), "t1": (t1 * scale).clip(0), "wmh": wmh,
            "wm": wm.astype(np.float32)}


def make_tiny_release(root: str | Path, seed: int = 0, shape=(4, 32, 32)) -> Path:
    """Write the tiny release under ``root`` (with ``synth/wm_mask.nii.gz``); return root."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for folder, ids in TINY_LAYOUT.items():
        for subject_id in ids:
            arrays = tiny_subject(rng, shape)
            base = root / folder / subject_id
            origin = (float(subject_id), -5.0, 3.0)
            _write(arrays["flair"], base / "pre" / "FLAIR.nii.gz", origin)
            _write(arrays["t1"], base / "pre" / "T1.nii.gz", origin)
            _write(arrays["wmh"], base / "wmh.nii.gz", origin)
            _write(arrays["wm"], base / "synth" / "wm_mask.nii.gz", origin)
    return root


def set_test_threads() -> None:
    """Torch intra-op threads for the baselines' tests (default 2, the time budget's setting;
    WMHEVAL_TEST_TORCH_THREADS=1 is much faster on an oversubscribed machine)."""
    import os

    import torch

    torch.set_num_threads(int(os.environ.get("WMHEVAL_TEST_TORCH_THREADS", "2")))


def train_and_predict_by_cli(data: Path, folder: Path, model: str, *options: str) -> Path:
    """``wmheval baseline train MODEL`` (demo recipe, 8 + 8 samples, CPU, extra ``options``)
    into ``folder/run``, then ``baseline predict`` into ``folder/sub``; both must exit 0.
    Returns the run folder."""
    from typer.testing import CliRunner

    from wmheval.cli.main import app

    run, submission = folder / "run", folder / "sub"
    trained = CliRunner().invoke(app, [
        "baseline", "train", model, str(data), "-o", str(run), "--recipe", "demo",
        "--samples", "8", "--wm-samples", "8", "--device", "cpu", *options])
    assert trained.exit_code == 0, trained.output
    predicted = CliRunner().invoke(app, [
        "baseline", "predict", str(run), str(data), "-o", str(submission), "--device", "cpu"])
    assert predicted.exit_code == 0, predicted.output
    return run
