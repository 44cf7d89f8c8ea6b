"""Bundled demo models: small networks shipped inside the package, loaded by name.

``demo:resunet`` (the demo-width ResU-Net with its white-matter network) and
``demo:fcn-vgg`` (the quarter-width FCN on VGG16, from scratch) were trained by
``wmheval baseline train MODEL DATA --recipe demo --seed 0`` on the 60 training subjects of
the **synthetic** challenge (``wmheval synth DATA --small --all-training --seed 0``). They
let ``wmheval demo`` show learned baselines in seconds instead of half an hour of CPU
training. **They were trained on synthetic images only and are of no use on real scans.**

Each file (``bundled/<name>.pt``) holds the networks' weights only (no optimiser state; fp16
where the predictions stay identical, cast back to float32 on load), the run's config, its
decision threshold and its provenance (command, recipe, data seed, wmheval version, git
commit, training time, the full checkpoint's sha256). ``bundled/manifest.json`` records each
file's sha256, which is checked on every load: a changed or damaged file is refused.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import torch

from wmheval.errors import InputError

PREFIX = "demo:"
BUNDLE_DIR = Path(__file__).resolve().parent / "bundled"
MANIFEST = "manifest.json"
SYNTHETIC_WARNING = ("trained on the SYNTHETIC challenge only (wmheval synth): no use on "
                     "real scans")
FORMAT = 1


class BundledModelError(InputError):
    """An unknown bundled model name, or a bundled file that is missing or altered."""


def is_bundled_name(text: object) -> bool:
    """Whether ``text`` names a bundled model (``demo:<model>``) rather than a run folder."""
    return isinstance(text, str) and text.startswith(PREFIX)


def read_manifest(folder: Path | None = None) -> dict[str, dict]:
    """The bundled models by name (file, sha256, provenance); empty when none is bundled."""
    path = (folder or BUNDLE_DIR) / MANIFEST
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise BundledModelError(f"{path}: cannot read the bundled models' manifest: "
                                f"{error}") from None


def bundled_names(folder: Path | None = None) -> tuple[str, ...]:
    """Names of the bundled models, e.g. ``("demo:fcn-vgg", "demo:resunet")``."""
    return tuple(sorted(read_manifest(folder)))


def bundled_entry(name: str, folder: Path | None = None) -> dict:
    """The manifest entry of bundled model ``name`` (BundledModelError naming the choices)."""
    manifest = read_manifest(folder)
    if name not in manifest:
        choices = ", ".join(sorted(manifest)) or "none bundled"
        raise BundledModelError(f"{name!r}: no such bundled model (choose from {choices})")
    return manifest[name]


def load_bundled(name: str, folder: Path | None = None) -> dict:
    """The checkpoint of bundled model ``name``, its sha256 verified against the manifest.

    Read with ``weights_only=True`` (tensors and plain values only); floating-point tensors
    come back as float32. The returned dict has the keys of a run checkpoint that prediction
    reads (``models``, ``config``, ``threshold``, ``beta``, ``vgg_convention``,
    ``progress``, ``format``) plus ``provenance``.
    """
    entry = bundled_entry(name, folder)
    path = (folder or BUNDLE_DIR) / entry["file"]
    try:
        payload = path.read_bytes()
    except OSError as error:
        raise BundledModelError(f"{path}: cannot read bundled model {name!r}: "
                                f"{error.strerror or error}") from None
    digest = hashlib.sha256(payload).hexdigest()
    if digest != entry["sha256"]:
        raise BundledModelError(f"{path}: sha256 {digest[:16]}... does not match the "
                                f"manifest's {entry['sha256'][:16]}... for {name!r}: the file "
                                "was changed or damaged; reinstall wmheval")
    checkpoint = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    checkpoint["models"] = {
        network: {key: value.float() if value.is_floating_point() else value
                  for key, value in state.items()}
        for network, state in checkpoint["models"].items()}
    return checkpoint


def weights_only(checkpoint: dict, *, half: bool) -> dict:
    """A run checkpoint reduced to what prediction needs (no optimiser or scaler state);
    floating-point weights in fp16 when ``half``."""
    def cast(value: torch.Tensor) -> torch.Tensor:
        value = value.detach().cpu().contiguous()
        return value.half() if half and value.is_floating_point() else value

    config = dict(checkpoint["config"])
    config["data"] = ""  # where the run's data lay is provenance, not a setting
    return {"format": 2, "bundle_format": FORMAT,
            "models": {network: {key: cast(value) for key, value in state.items()}
                       for network, state in checkpoint["models"].items()},
            "config": config, "progress": dict(checkpoint["progress"]),
            "beta": checkpoint.get("beta"), "threshold": checkpoint.get("threshold"),
            "vgg_convention": checkpoint.get("vgg_convention"),
            "operating_point": checkpoint.get("operating_point")}


def export_bundle(checkpoint: dict, name: str, provenance: dict, *, half: bool,
                  folder: Path | None = None) -> Path:
    """Write ``checkpoint`` (a run's, see :func:`weights_only`) as bundled model ``name``
    with its ``provenance`` into ``folder`` and record its sha256 in the manifest."""
    if not is_bundled_name(name):
        raise BundledModelError(f"{name!r}: bundled model names start with {PREFIX!r}")
    folder = folder or BUNDLE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    state = weights_only(checkpoint, half=half)
    # Plain JSON types only: torch.load(weights_only=True) refuses other classes (a
    # torch.__version__ is a TorchVersion), and the manifest is JSON anyway.
    plain = json.loads(json.dumps(provenance, default=str))
    state["provenance"] = {**plain, "dtype": "float16" if half else "float32",
                           "warning": SYNTHETIC_WARNING}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    file = name.removeprefix(PREFIX).replace("-", "_") + ".pt"
    (folder / file).write_bytes(payload)
    manifest = read_manifest(folder)
    manifest[name] = {"file": file, "sha256": hashlib.sha256(payload).hexdigest(),
                      "bytes": len(payload), **state["provenance"]}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n",
                                   encoding="utf-8")
    return folder / file


def main(argv: list[str] | None = None) -> None:
    """``python -m wmheval_baselines.bundled RUN NAME ...``: bundle a finished run (how the
    shipped models were made; see baselines/README.md, *Bundled demo models*)."""
    import argparse
    import platform
    import subprocess

    import wmheval
    from wmheval_baselines.train import TrainConfig, is_complete, load_checkpoint, run_progress

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="finished run folder (baseline train)")
    parser.add_argument("name", help="bundled name, e.g. demo:resunet")
    parser.add_argument("--command", required=True, help="the training command, as run")
    parser.add_argument("--data-command", required=True, help="the data command, as run")
    parser.add_argument("--data-seed", type=int, required=True)
    parser.add_argument("--training-seconds", type=float, required=True,
                        help="wall time of the training command")
    parser.add_argument("--conditions", default="", help="machine and load while training")
    parser.add_argument("--half", action="store_true", help="store the weights in fp16")
    parser.add_argument("--git-commit", default=None,
                        help="the commit the run was trained with (default: this checkout's)")
    args = parser.parse_args(argv)
    config = TrainConfig.from_json(args.run / "config.json")
    checkpoint = load_checkpoint(args.run)
    if not is_complete(config, run_progress(checkpoint)):
        raise SystemExit(f"{args.run}: the run is incomplete; finish it first")
    metadata = json.loads((args.run / "metadata.json").read_text(encoding="utf-8"))
    commit = args.git_commit
    try:
        commit = commit or subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
            cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    provenance = {
        "name": args.name, "model": config.model, "recipe": config.recipe,
        "seed": config.seed, "data_seed": args.data_seed, "command": args.command,
        "data_command": args.data_command,
        "training_subjects": len(metadata.get("training_subjects", [])),
        "samples": {phase: config.target(phase) for phase in config.phases},
        "wmheval_version": wmheval.__version__, "git_commit": commit,
        "torch_version": str(torch.__version__), "python": platform.python_version(),
        "device": metadata.get("device"), "training_seconds": args.training_seconds,
        "training_conditions": args.conditions,
        "run_checkpoint_sha256": metadata.get("checkpoint_sha256"),
        "threshold": checkpoint.get("threshold"),
    }
    path = export_bundle(checkpoint, args.name, provenance, half=args.half)
    print(f"{path}: {path.stat().st_size / 1e6:.2f} MB, "
          f"sha256 {read_manifest()[args.name]['sha256']}")


if __name__ == "__main__":
    main()
