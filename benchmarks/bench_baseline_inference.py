"""End-to-end CPU inference time of one full-size volume per baseline and recipe width.

    python benchmarks/bench_baseline_inference.py --threads 2 --models resunet,flair-fcn \
        --recipes demo,paper --precisions fp32,bf16

Writes a two-subject release of Utrecht-sized volumes (240x240x48, 0.96x0.96x3 mm, random
texture with a white-matter mask) to a temporary folder, trains each model with the
recipe's network widths for two samples (the weights do not matter for timing), then times
``predict_folder`` on the test subject: reading, reorienting, the white-matter network, the
WMH network, thresholding and writing the NIfTI. Prints seconds per volume (best of
``--repeats``) and the torch threads; ``bf16`` is ``predict --cpu-bf16``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def write_release(root: Path, size: tuple[int, int, int] = (48, 240, 240)) -> Path:
    import numpy as np
    import SimpleITK as sitk

    rng = np.random.default_rng(0)
    z, y, x = np.meshgrid(*(np.linspace(-1, 1, n) for n in size), indexing="ij")
    brain = x**2 + y**2 + z**2 < 0.8
    wm = x**2 + y**2 + z**2 < 0.3
    for folder in ("training/Utrecht/0", "test/Utrecht/1"):
        arrays = {"pre/FLAIR.nii.gz": brain * (300 + 20 * rng.standard_normal(size)),
                  "pre/T1.nii.gz": brain * (500 + 200 * wm + 20 * rng.standard_normal(size)),
                  "wmh.nii.gz": (wm & (rng.random(size) < 0.01)).astype(float),
                  "synth/wm_mask.nii.gz": wm.astype(float)}
        for name, array in arrays.items():
            image = sitk.GetImageFromArray(array.astype(np.float32))
            image.SetSpacing((0.96, 0.96, 3.0))
            path = root / folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            sitk.WriteImage(image, str(path))
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resunet,flair-fcn,fcn-vgg")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--recipes", default="demo",
                        help="recipes whose network widths to time: demo, paper or both")
    parser.add_argument("--precisions", default="fp32",
                        help="fp32, bf16 (predict --cpu-bf16) or both")
    args = parser.parse_args()
    import torch
    from wmheval_baselines.predict import predict_folder
    from wmheval_baselines.train import config_from_recipe, train

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        root = write_release(Path(folder) / "release")
        for recipe in args.recipes.split(","):
            for model in args.models.split(","):
                config = config_from_recipe(model, recipe, data=str(root), samples=2,
                                            wm_samples=2 if model != "fcn-vgg" else 0,
                                            batch_size=2, device="cpu")
                run = train(config, Path(folder) / f"{model}-{recipe}", resume=False)
                for precision in args.precisions.split(","):
                    times = []
                    for repeat in range(args.repeats):
                        start = time.perf_counter()
                        predict_folder(run, root,
                                       Path(folder) / f"{model}-{recipe}-{precision}-{repeat}",
                                       device="cpu", cpu_bf16=precision == "bf16")
                        times.append(time.perf_counter() - start)
                    print(f"{model:10s} {recipe:5s} recipe {precision}: {min(times):6.2f} s per "
                          f"240x240x48 volume (best of {args.repeats}; all "
                          f"{', '.join(f'{t:.2f}' for t in times)}), "
                          f"{torch.get_num_threads()} torch threads")


if __name__ == "__main__":
    main()
