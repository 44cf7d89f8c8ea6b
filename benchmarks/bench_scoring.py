"""Benchmark the scoring engine against image reading and the literal test oracle.

Prints, per scanner grid of the 2017 release (realistic cases with tens to hundreds of
lesions): the time to read the two images, the engine's time per case (reading, checks
and metrics, as ``wmheval score`` runs it), the literal oracle's time, and the ratios; then
the wall time of ``score_folder`` on a whole 110-subject test folder.

    python benchmarks/bench_scoring.py            # per-case table + 110-subject folder
    python benchmarks/bench_scoring.py --quick    # fewer repeats, no folder run
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from oracle import oracle_metrics  # noqa: E402

from wmheval.io.manifest import SCANNER_ORDER, load_manifest  # noqa: E402
from wmheval.metrics import Geometry, evaluate_arrays  # noqa: E402
from wmheval.scoring import score_folder  # noqa: E402
from wmheval.scoring.case import CaseTask, score_case  # noqa: E402


def realistic_case(shape_xyz, spacing, seed: int, lesion_share: float = 0.003):
    """A float32 reference with scattered lesions (and a label-2 patch) and a uint8 prediction
    that under- and over-segments some of them and adds false positives."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in shape_xyz[::-1])
    zz, yy, xx = np.ogrid[tuple(slice(0, n) for n in shape)]
    brain = (((zz - shape[0] / 2) / (shape[0] * 0.42)) ** 2
             + ((yy - shape[1] / 2) / (shape[1] * 0.38)) ** 2
             + ((xx - shape[2] / 2) / (shape[2] * 0.33)) ** 2) < 1
    sigma = (0.8, 3.0, 3.0)
    noise = ndimage.gaussian_filter(rng.random(shape, dtype=np.float32), sigma=sigma)
    noise[~brain] = 0
    threshold = np.quantile(noise[brain], 1 - lesion_share * brain.size / brain.sum())
    reference = (noise > threshold).astype(np.float32)
    z = shape[0] // 2
    reference[z, shape[1] // 2: shape[1] // 2 + 6, shape[2] // 3: shape[2] // 3 + 6] = 2
    other = ndimage.gaussian_filter(rng.random(shape, dtype=np.float32), sigma=sigma)
    prediction = (noise > threshold * 0.998) | ((other > np.quantile(other, 0.9997)) & brain)
    prediction = ndimage.binary_opening(prediction, np.ones((1, 2, 1), bool)) | (
        noise > threshold * 1.01)
    geometry = Geometry(spacing=tuple(float(s) for s in spacing), origin=(-100.0, -110.0, -60.0))
    return reference, prediction.astype(np.uint8), geometry


def write(array: np.ndarray, geometry: Geometry, path: Path) -> None:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(geometry.spacing)
    image.SetOrigin(geometry.origin)
    sitk.WriteImage(image, str(path), useCompression=True)


def best_of(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times) if repeats > 2 else statistics.mean(times)


def per_case_table(root: Path, repeats: int) -> None:
    manifest = load_manifest()
    print(f"{'scanner':22s} {'grid (x,y,z)':>14s} {'lesions':>7s} {'read s':>8s} "
          f"{'engine s':>9s} {'metrics s':>9s} {'engine/read':>11s} {'oracle s':>9s} "
          f"{'oracle/engine':>13s}")
    for index, scanner in enumerate(SCANNER_ORDER):
        row = manifest[manifest["scanner"] == scanner].iloc[0]
        shape = (int(row.shape_x), int(row.shape_y), int(row.shape_z))
        spacing = (float(row.spacing_x), float(row.spacing_y), float(row.spacing_z))
        reference, prediction, geometry = realistic_case(shape, spacing, seed=index)
        ref_path, pred_path = root / f"{scanner}_wmh.nii.gz", root / f"{scanner}_pred.nii.gz"
        write(reference, geometry, ref_path)
        write(prediction, geometry, pred_path)
        task = CaseTask(id=scanner, reference_path=ref_path, prediction_path=pred_path)

        def read_both(ref_path=ref_path, pred_path=pred_path):
            for path in (ref_path, pred_path):
                sitk.GetArrayFromImage(sitk.ReadImage(str(path)))

        read_time = best_of(read_both, repeats)
        engine_time = best_of(lambda task=task: score_case(task), repeats)
        metrics_time = best_of(lambda r=reference, p=prediction, g=geometry:
                               evaluate_arrays(r, p, geometry=g), repeats)
        ref_image, pred_image = sitk.ReadImage(str(ref_path)), sitk.ReadImage(str(pred_path))
        oracle_time = best_of(lambda a=ref_image, b=pred_image: oracle_metrics(a, b), 1)
        lesions = evaluate_arrays(reference, prediction, geometry=geometry).n_reference_lesions
        print(f"{scanner:22s} {'x'.join(map(str, shape)):>14s} {lesions:7d} {read_time:8.3f} "
              f"{engine_time:9.3f} {metrics_time:9.3f} {engine_time / read_time:11.2f} "
              f"{oracle_time:9.2f} {oracle_time / engine_time:13.1f}")
    print("engine = one case as `wmheval score` runs it (read both images, integrity checks, "
          "metrics); metrics = the array engine alone; read = SimpleITK reading both images")


def write_test_folder(root: Path) -> tuple[Path, Path, int]:
    """Write the bundled manifest's test subjects at their real grid sizes (realistic lesion
    patterns) as ``root/reference`` (release layout) and ``root/submission``."""
    manifest = load_manifest()
    test = manifest[manifest["split"] == "test"]
    reference_root, submission = root / "reference", root / "submission"
    for index, row in enumerate(test.itertuples()):
        shape = (int(row.shape_x), int(row.shape_y), int(row.shape_z))
        spacing = (float(row.spacing_x), float(row.spacing_y), float(row.spacing_z))
        reference, prediction, geometry = realistic_case(shape, spacing, seed=100 + index)
        folder = reference_root / row.release_path
        folder.mkdir(parents=True, exist_ok=True)
        write(reference, geometry, folder / "wmh.nii.gz")
        (submission / row.id).mkdir(parents=True, exist_ok=True)
        write(prediction, geometry, submission / row.id / "result.nii.gz")
    return reference_root, submission, len(test)


def folder_run(root: Path) -> None:
    start = time.perf_counter()
    reference_root, submission, count = write_test_folder(root)
    print(f"\nwrote {count} test subjects in {time.perf_counter() - start:.1f} s")
    for jobs in (1, 2):
        start = time.perf_counter()
        result = score_folder(reference_root, submission, jobs=jobs)
        elapsed = time.perf_counter() - start
        assert result.ok, result.cases["error"].unique()
        print(f"score_folder, 110 subjects, jobs={jobs}: {elapsed:.1f} s "
              f"({elapsed / count:.3f} s per subject)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, no folder run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        per_case_table(root, repeats=2 if args.quick else 5)
        if not args.quick:
            folder_run(root)


if __name__ == "__main__":
    main()
