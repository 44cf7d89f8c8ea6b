"""The baselines' results table: train, predict and score each model on one challenge folder.

    python benchmarks/baseline_results.py CHALLENGE --out DIR \\
        --models threshold,resunet,flair-fcn,fcn-vgg --recipe demo \\
        --set resunet:wm_samples=6000 --set resunet:samples=16000

Each model is trained with ``--recipe`` (settings overridden with ``--set MODEL:FIELD=VALUE``)
on the ``challenge`` split's training subjects into ``DIR/<model>/run`` (an existing complete
run is reused, an incomplete one resumed), predicts the test subjects into
``DIR/<model>/submission`` and is scored with ``wmheval score`` into ``DIR/<model>/scores``.
The threshold baseline (the floor) is fitted on the training subjects. Prints a Markdown
table (threshold first; all, seen, unseen and each scanner; means over cases) and the
training and prediction times, and writes it to ``DIR/results.md``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

METRICS = ("dice", "h95", "avd", "recall", "f1")
HEADER = ("| model | group | cases | Dice | H95 mm | AVD % | recall | F1 |\n"
          "|---|---|---|---|---|---|---|---|")


def _value(text: str) -> object:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_settings(items: list[str]) -> dict[str, dict[str, object]]:
    """``MODEL:FIELD=VALUE`` items -> {model: {field: value}}."""
    settings: dict[str, dict[str, object]] = {}
    for item in items:
        model, _, assignment = item.partition(":")
        field, _, value = assignment.partition("=")
        if not model or not field or not value:
            raise SystemExit(f"--set {item!r}: expected MODEL:FIELD=VALUE")
        settings.setdefault(model, {})[field] = _value(value)
    return settings


def run_model(model: str, data: Path, out: Path, recipe: str, overrides: dict) -> dict:
    """Train (or reuse), predict and score one model; a note of what it did and how long
    each step took."""
    from wmheval.pipelines.score import score_to_dir

    folder = out / model
    start = time.perf_counter()
    if model == "threshold":
        from wmheval_baselines.threshold import threshold_baseline

        submission = folder / "submission"
        threshold_baseline(data, submission)
        done = time.perf_counter()
        score_to_dir(data, submission, out=folder / "scores", split="test", jobs=2)
        return {"model": model, "note": f"fitting and predicting {done - start:.0f} s"}
    from wmheval_baselines.predict import predict_folder
    from wmheval_baselines.train import (
        checkpoint_path,
        config_from_recipe,
        is_complete,
        load_checkpoint,
        run_progress,
        train,
    )

    config = config_from_recipe(model, recipe, data=str(data), device="cpu", **overrides)
    run = folder / "run"
    reused = (checkpoint_path(run).is_file()
              and is_complete(config, run_progress(load_checkpoint(run))))
    train(config, run, resume=True)
    trained = time.perf_counter()
    submission = predict_folder(run, data, folder / "submission", device="cpu")
    predicted = time.perf_counter()
    score_to_dir(data, submission, out=folder / "scores", split="test", jobs=2)
    training = "a finished run reused" if reused else f"training {trained - start:.0f} s"
    return {"model": model,
            "note": f"{training}, predicting the test subjects {predicted - trained:.0f} s"}


def table_rows(label: str, summary: pd.DataFrame) -> list[str]:
    """Markdown rows of one model's ``summary.csv``: all, seen, unseen, then each scanner."""
    wide = summary.pivot_table(index=["group_type", "group"], columns="metric",
                               values="mean", sort=False)
    counts = summary[summary.metric == "dice"].set_index(["group_type", "group"])["n_cases"]
    rows = []
    for (group_type, group), values in wide.iterrows():
        if group_type not in ("all", "seen", "unseen", "scanner"):
            continue
        cells = [f"{values[m]:.3f}" if m in ("dice", "recall", "f1") else f"{values[m]:.1f}"
                 for m in METRICS]
        rows.append(f"| {label} | {group} | {counts[(group_type, group)]} | "
                    + " | ".join(cells) + " |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("challenge", type=Path)
    parser.add_argument("--out", "-o", type=Path, required=True)
    parser.add_argument("--models", default="threshold,resunet,flair-fcn,fcn-vgg")
    parser.add_argument("--recipe", default="demo")
    parser.add_argument("--set", action="append", default=[], dest="settings",
                        metavar="MODEL:FIELD=VALUE")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    from wmheval.io.atomic import write_text_atomic

    torch.set_num_threads(args.threads)
    settings = parse_settings(args.settings)
    models = args.models.split(",")
    models.sort(key=lambda m: m != "threshold")  # the floor first
    lines, times = [HEADER], []
    for model in models:
        times.append(run_model(model, args.challenge, args.out, args.recipe,
                               settings.get(model, {})))
        summary = pd.read_csv(args.out / model / "scores" / "summary.csv")
        lines += table_rows(model, summary)
    lines.append("")
    lines += [f"{t['model']}: {t['note']}" for t in times]
    text = "\n".join(lines) + "\n"
    write_text_atomic(args.out / "results.md", text)
    print(text)


if __name__ == "__main__":
    main()
