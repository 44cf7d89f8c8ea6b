"""Make the bundled demo models (``demo:resunet``, ``demo:fcn-vgg``) from scratch.

Usage: ``python baselines/make_demo_models.py WORK [--models resunet fcn-vgg] [--threads N]``

1. ``wmheval synth WORK/challenge --small --all-training --seed 0`` (kept if present);
2. ``wmheval baseline train MODEL WORK/challenge --out WORK/run_MODEL --recipe demo --seed 0
   --device cpu`` for each model, timed (wall clock, load average before and after);
3. each run exported in fp32 and fp16 into WORK; both predict the challenge's 15 test
   subjects; the fp16 file is shipped only when its masks are identical to the fp32 ones;
4. the chosen file written into ``wmheval_baselines/bundled/`` with its provenance and sha256
   (``bundled/manifest.json``), ready to commit.

About 30 minutes on an idle 2-core machine (see baselines/README.md, *Bundled demo models*).
Torch uses ``--threads`` intra-op threads (default: torch's own choice); on a machine shared
with other work 1 thread per process avoids the spin-waiting of oversubscribed threads.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA_SEED = 0
TRAIN_SEED = 0


def _run(command: list[str], env: dict[str, str]) -> float:
    print("$", " ".join(command), flush=True)
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env)
    return time.perf_counter() - start


def _masks(folder: Path) -> dict[str, bytes]:
    from wmheval.io.images import read_image

    return {p.parent.name: read_image(p).array.tobytes()
            for p in sorted(folder.glob("*/result.nii.gz"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path, help="working folder (data and runs)")
    parser.add_argument("--models", nargs="+", default=["resunet", "fcn-vgg"])
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (OMP_NUM_THREADS) for training")
    parser.add_argument("--trained", action="append", default=[], metavar="MODEL=SECONDS",
                        help="WORK/run_MODEL is already trained (by the command above) in "
                             "SECONDS of wall time: bundle it without training")
    parser.add_argument("--conditions", default=None,
                        help="with --trained: the machine and load during that training")
    parser.add_argument("--git-commit", default=None,
                        help="with --trained: the commit the runs were trained with")
    args = parser.parse_args()
    trained = {k: float(v) for k, v in (item.split("=", 1) for item in args.trained)}
    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(args.threads)
    wmheval = [sys.executable, "-m", "wmheval.cli.main"]
    data = args.work / "challenge"
    data_command = f"wmheval synth DATA --small --all-training --seed {DATA_SEED}"
    if not (data / "synth_manifest.csv").is_file():
        _run([*wmheval, "synth", str(data), "--small", "--all-training", "--seed",
              str(DATA_SEED)], env)

    from wmheval_baselines import bundled
    from wmheval_baselines.predict import predict_folder
    from wmheval_baselines.train import load_checkpoint

    for model in args.models:
        run = args.work / f"run_{model}"
        command = [*wmheval, "baseline", "train", model, str(data), "--out", str(run),
                   "--recipe", "demo", "--seed", str(TRAIN_SEED), "--device", "cpu"]
        threads = env.get("OMP_NUM_THREADS", "torch default")
        if model in trained:
            seconds = trained[model]
            conditions = args.conditions or "not recorded"
        else:
            load_before = os.getloadavg()[0]
            seconds = _run(command, env)
            conditions = (f"{os.cpu_count()} CPU cores, torch threads: {threads}, load "
                          f"average {load_before:.1f} before and {os.getloadavg()[0]:.1f} "
                          "after training")
        checkpoint = load_checkpoint(run)
        name = f"demo:{model}"
        identical = True
        with tempfile.TemporaryDirectory() as scratch:
            masks = {}
            for half in (False, True):
                folder = Path(scratch) / ("half" if half else "full")
                bundled.export_bundle(checkpoint, name, {}, half=half, folder=folder)
                loaded = bundled.load_bundled(name, folder)
                assert set(loaded["models"]) == set(checkpoint["models"])
                out = Path(scratch) / f"pred_{half}"
                monkey = bundled.BUNDLE_DIR
                bundled.BUNDLE_DIR = folder
                try:
                    predict_folder(name, data, out, device="cpu")
                finally:
                    bundled.BUNDLE_DIR = monkey
                masks[half] = _masks(out)
            identical = masks[True] == masks[False]
        print(f"{model}: fp16 masks {'identical to' if identical else 'DIFFER from'} fp32 "
              f"on {len(masks[False])} test subjects", flush=True)
        subprocess.run([sys.executable, "-m", "wmheval_baselines.bundled", str(run), name,
                        "--command", f"wmheval baseline train {model} DATA --out RUN "
                        f"--recipe demo --seed {TRAIN_SEED} --device cpu",
                        "--data-command", data_command, "--data-seed", str(DATA_SEED),
                        "--training-seconds", f"{seconds:.0f}", "--conditions", conditions,
                        *(["--half"] if identical else []),
                        *(["--git-commit", args.git_commit] if args.git_commit else [])],
                       check=True, env=env)


if __name__ == "__main__":
    main()
