"""Training: config, seeds, AMP/compile on CUDA, a checkpoint every epoch, resume, run folder.

A run folder holds ``config.json`` (the :class:`TrainConfig`), ``metadata.json`` (seeds,
subjects, versions, loss history, hashes of the pretrained and trained weights) and
``checkpoints/last.pt``. ResU-Net runs train two networks one after the other: the white-
matter U-Net (``wm_epochs``), then the WMH ResU-Net (``epochs``); epochs count across both.
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch

from wmheval.io.atomic import write_atomic, write_text_atomic
from wmheval_baselines.data import SliceDataset, augment, find_subjects, load_volume, make_loader
from wmheval_baselines.inference import (
    autocast_context,
    fcn_vgg_input,
    resunet_input,
    wm_mask_from_net,
    wm_net_input,
)
from wmheval_baselines.losses import balanced_cross_entropy, global_beta, plain_cross_entropy
from wmheval_baselines.models import FcnVgg, ResUNet, WmUNet
from wmheval_baselines.splits import parse_split, split_subjects
from wmheval_baselines.vgg_weights import apply_vgg16_features, sha256_file

MODELS = ("resunet", "fcn-vgg")
SCRATCH_WARNING = ("NO PRETRAINED WEIGHTS: the FCN/VGG model was trained FROM SCRATCH "
                   "(random VGG16 initialisation), unlike the paper's ImageNet transfer "
                   "learning; pass --vgg-weights FILE (a torchvision VGG16 state dict).")
# Config fields that may change when a run is resumed (everything else must match).
RESUMABLE_CHANGES = {"data", "device", "num_workers", "amp", "compile", "channels_last",
                     "max_seconds", "epochs"}


class RunError(ValueError):
    """A run folder cannot be created, resumed or read."""


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved as ``config.json``)."""

    model: str = "resunet"
    data: str = ""
    split: str = "challenge"
    epochs: int = 4             # WMH network epochs (the ResU-Net paper stopped after 4)
    wm_epochs: int = 4          # white-matter U-Net epochs (ResU-Net only)
    batch_size: int = 16
    learning_rate: float = 1e-4
    base_channels: int = 64     # ResU-Net width (64 = the original U-Net's)
    wm_base_channels: int = 64  # white-matter U-Net width
    fcn_k: int = 16             # specialised maps per VGG stage
    seed: int = 0
    device: str = "auto"
    vgg_weights: str | None = None
    wm_masks: str | None = None
    num_workers: int | None = None
    amp: bool = True            # CUDA only
    compile: bool = True        # CUDA only
    channels_last: bool = True  # CUDA only
    max_seconds: float | None = None   # wall-clock budget for this invocation's training
    wm_time_fraction: float = 0.3      # share of max_seconds for the white-matter U-Net
    rotation_degrees: float = 15.0
    dilation_mm: float = 4.0
    area_opening_mm2: float = 60.0
    beta: float | None = None   # None: computed from the training labels

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}: expected one of {MODELS}")
        parse_split(self.split)
        if self.epochs < 1 or self.wm_epochs < 0 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be >= 1, wm_epochs >= 0")

    @classmethod
    def from_json(cls, path: Path) -> TrainConfig:
        try:
            values = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise RunError(f"{path}: cannot read run config: {error}") from error
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    @property
    def wm_phase_epochs(self) -> int:
        return self.wm_epochs if self.model == "resunet" else 0

    @property
    def total_epochs(self) -> int:
        return self.wm_phase_epochs + self.epochs


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; otherwise ``torch.device(name)``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RunError(f"device {name!r} asked for but CUDA is not available")
    return device


def build_models(config: TrainConfig) -> dict[str, torch.nn.Module]:
    """Fresh networks, initialised from ``config.seed`` (same order every time)."""
    torch.manual_seed(config.seed)
    models: dict[str, torch.nn.Module] = {}
    if config.model == "resunet":
        models["wm"] = WmUNet(config.wm_base_channels)
        models["wmh"] = ResUNet(config.base_channels)
    else:
        models["wmh"] = FcnVgg(config.fcn_k)
    return models


def checkpoint_path(run: Path) -> Path:
    return Path(run) / "checkpoints" / "last.pt"


def load_checkpoint(run: Path) -> dict:
    path = checkpoint_path(run)
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # noqa: BLE001 - corrupt files raise many types
        raise RunError(f"{path}: cannot read checkpoint: {error}") from error


def _check_resumable(saved: TrainConfig, config: TrainConfig, run: Path) -> None:
    differences = [f.name for f in fields(TrainConfig)
                   if f.name not in RESUMABLE_CHANGES
                   and getattr(saved, f.name) != getattr(config, f.name)]
    if differences:
        raise RunError(f"{run}: cannot resume, the run was made with different settings "
                       f"({', '.join(differences)}); use --no-resume or another --out")


def _write_json(path: Path, payload: dict) -> None:
    write_text_atomic(path, json.dumps(payload, indent=2, default=str) + "\n")


def _say(console, message: str, style: str = "") -> None:
    if console is not None:
        console.print(message, style=style or None, highlight=False, markup=False)


class _Trainer:
    """One training invocation (fresh or resumed). Not public: use :func:`train`."""

    def __init__(self, config: TrainConfig, run: Path, resume: bool, console) -> None:
        self.config, self.run, self.console = config, Path(run), console
        self.device = resolve_device(config.device)
        self.cuda = self.device.type == "cuda"
        self.started = time.monotonic()
        self.models = build_models(config)
        self.metadata = self._fresh_metadata()
        self.start_epoch = 0
        self.checkpoint: dict | None = None
        if resume and checkpoint_path(self.run).is_file():
            saved_config = TrainConfig.from_json(self.run / "config.json")
            _check_resumable(saved_config, config, self.run)
            self.checkpoint = load_checkpoint(self.run)
            for name, model in self.models.items():
                model.load_state_dict(self.checkpoint["models"][name])
            self.start_epoch = int(self.checkpoint["epoch"])
            previous = self.run / "metadata.json"
            if previous.is_file():
                self.metadata = json.loads(previous.read_text(encoding="utf-8"))
            _say(console, f"resuming {self.run} at epoch {self.start_epoch + 1}")
        elif config.model == "fcn-vgg":
            self._init_vgg()
        for model in self.models.values():
            model.to(self.device)
            if self.cuda and config.channels_last:
                model.to(memory_format=torch.channels_last)
        self.metadata["device"] = str(self.device)
        self.metadata["cuda_device_name"] = (torch.cuda.get_device_name(self.device)
                                             if self.cuda else None)

    def _fresh_metadata(self) -> dict:
        return {
            "model": self.config.model, "split": self.config.split, "seed": self.config.seed,
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "python": sys.version.split()[0], "platform": platform.platform(),
            "torch": torch.__version__, "numpy": np.__version__,
            "pretrained_weights": None, "weights_warning": None,
            "history": [], "complete": False,
        }

    def _init_vgg(self) -> None:
        path = self.config.vgg_weights
        if path:
            digest = apply_vgg16_features(self.models["wmh"], path)
            self.metadata["pretrained_weights"] = {"path": str(Path(path).resolve()),
                                                   "sha256": digest, "format": "torchvision"}
            _say(self.console, f"VGG16 weights loaded from {path} (sha256 {digest[:12]}...)")
        else:
            self.metadata["weights_warning"] = SCRATCH_WARNING
            _say(self.console, "WARNING: " + SCRATCH_WARNING, "bold red")
            if self.console is None:
                print("WARNING: " + SCRATCH_WARNING, file=sys.stderr)

    # --- data -----------------------------------------------------------------------------
    def load_data(self) -> None:
        config = self.config
        subjects = find_subjects(config.data)
        train, predict = split_subjects(subjects, config.split)
        need_wm = config.model == "resunet"
        self.volumes = [load_volume(s, wm_masks=config.wm_masks, need_wm=need_wm)
                        for s in self._progress(train, "reading volumes")]
        self.metadata["training_subjects"] = [s.id for s in train]
        self.metadata["predict_subjects"] = [s.id for s in predict]
        if config.model == "resunet":
            beta = config.beta if config.beta is not None else global_beta(
                [v.wmh for v in self.volumes])
            self.metadata["beta"] = beta
            self.metadata["beta_convention"] = (
                "beta = mean over volumes of |background|/|labelled|; loss = -(beta*sum_fg "
                "log p + (1-beta)*sum_bg log(1-p)) / n_labelled")

    def phase_dataset(self, phase: str) -> SliceDataset:
        if phase == "wm":
            return SliceDataset([wm_net_input(v) for v in self.volumes],
                                [v.wm for v in self.volumes])
        if self.config.model == "resunet":
            inputs = []
            for volume in self._progress(self.volumes, "white-matter masks"):
                mask = wm_mask_from_net(self.models["wm"], volume, self.device,
                                        dilation_mm=self.config.dilation_mm,
                                        amp=self.config.amp)
                inputs.append(resunet_input(volume, mask))
            return SliceDataset(inputs, [v.wmh for v in self.volumes])
        inputs = [fcn_vgg_input(v, self.config.area_opening_mm2)
                  for v in self._progress(self.volumes, "FCN inputs")]
        return SliceDataset(inputs, [v.wmh for v in self.volumes])

    def _progress(self, items, description: str):
        if self.console is None:
            yield from items
            return
        from rich.progress import track

        yield from track(items, description=description, console=self.console,
                         transient=True)

    # --- training -------------------------------------------------------------------------
    def phase_of(self, epoch: int) -> str:
        return "wm" if epoch < self.config.wm_phase_epochs else "wmh"

    def deadline(self, phase: str) -> float:
        budget = self.config.max_seconds
        if budget is None:
            return math.inf
        share = self.config.wm_time_fraction if self.config.wm_phase_epochs else 0.0
        return self.started + budget * (share if phase == "wm" else 1.0)

    def run_training(self) -> Path:
        config = self.config
        phase_state: tuple[str, SliceDataset, torch.optim.Optimizer, object, object] | None = None
        epoch = self.start_epoch
        while epoch < config.total_epochs:
            phase = self.phase_of(epoch)
            if phase_state is None or phase_state[0] != phase:
                phase_state = self._start_phase(phase)
            _, dataset, optimiser, scaler, runner = phase_state
            loss, slices, seconds, stopped = self._run_epoch(
                epoch, phase, dataset, optimiser, scaler, runner)
            if stopped:  # time budget: this phase ends here
                last_of_phase = (config.wm_phase_epochs if phase == "wm"
                                 else config.total_epochs)
                epoch = last_of_phase - 1
                self.metadata.setdefault("stopped_by_time_budget", []).append(phase)
            self.metadata["history"].append({
                "epoch": epoch + 1, "phase": phase, "loss": loss, "slices": slices,
                "seconds": round(seconds, 3),
                "slices_per_second": round(slices / seconds, 2) if seconds else None,
                "partial": stopped})
            epoch += 1
            self._save(epoch, phase, optimiser, scaler)
        self.metadata["complete"] = True
        self.metadata["epochs_done"] = epoch
        self.metadata["checkpoint_sha256"] = sha256_file(checkpoint_path(self.run))
        _write_json(self.run / "metadata.json", self.metadata)
        return self.run

    def _start_phase(self, phase: str):
        dataset = self.phase_dataset(phase)
        self.metadata[f"canvas_{phase}"] = list(dataset.canvas)
        model = self.models[phase]
        optimiser = torch.optim.Adam(model.parameters(), lr=self.config.learning_rate)
        use_fp16 = self.cuda and self.config.amp and not torch.cuda.is_bf16_supported()
        scaler = torch.amp.GradScaler("cuda", enabled=use_fp16)
        if self.checkpoint is not None and self.checkpoint.get("phase") == phase:
            optimiser.load_state_dict(self.checkpoint["optimiser"])
            scaler.load_state_dict(self.checkpoint["scaler"])
        runner = model
        if self.cuda and self.config.compile:
            runner = torch.compile(model)
        return phase, dataset, optimiser, scaler, runner

    def _loss(self, phase: str, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if phase == "wmh" and self.config.model == "resunet":
            return balanced_cross_entropy(logits, labels, self.metadata["beta"])
        return plain_cross_entropy(logits, labels)

    def _run_epoch(self, epoch, phase, dataset, optimiser, scaler, runner):
        config = self.config
        self.models[phase].train()
        loader = make_loader(dataset, config.batch_size, seed=config.seed, epoch=epoch,
                             device=self.device, num_workers=config.num_workers)
        generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch + 7)
        deadline = self.deadline(phase)
        total, count, slices, stopped = 0.0, 0, 0, False
        start = time.monotonic()
        bar = None
        if self.console is not None:
            from rich.progress import Progress

            bar = Progress(console=self.console, transient=True)
            bar.start()
            task = bar.add_task(f"epoch {epoch + 1}/{config.total_epochs} ({phase})",
                                total=len(loader))
        try:
            for x, y in loader:
                x = x.to(self.device, non_blocking=self.cuda).float()
                y = y.to(self.device, non_blocking=self.cuda)
                x, y = augment(x, y, generator, config.rotation_degrees)
                if self.cuda and config.channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                optimiser.zero_grad(set_to_none=True)
                with autocast_context(self.device, config.amp):
                    logits = runner(x)
                loss = self._loss(phase, logits, y)
                scaler.scale(loss).backward()
                scaler.step(optimiser)
                scaler.update()
                total += float(loss.detach())
                count += 1
                slices += x.shape[0]
                if bar is not None:
                    bar.update(task, advance=1)
                if time.monotonic() > deadline:
                    stopped = True
                    break
        finally:
            if bar is not None:
                bar.stop()
        seconds = time.monotonic() - start
        mean_loss = total / max(count, 1)
        _say(self.console, f"epoch {epoch + 1}/{config.total_epochs} ({phase}): loss "
             f"{mean_loss:.4f}, {slices / max(seconds, 1e-9):.1f} slices/s")
        return mean_loss, slices, seconds, stopped

    def _save(self, epoch: int, phase: str, optimiser, scaler) -> None:
        state = {
            "format": 1, "epoch": epoch, "phase": phase,
            "models": {name: {k: v.detach().cpu() for k, v in m.state_dict().items()}
                       for name, m in self.models.items()},
            "optimiser": optimiser.state_dict(), "scaler": scaler.state_dict(),
            "config": asdict(self.config), "beta": self.metadata.get("beta"),
        }
        write_atomic(checkpoint_path(self.run), lambda p: torch.save(state, p))
        self.metadata["epochs_done"] = epoch
        _write_json(self.run / "metadata.json", self.metadata)


def train(config: TrainConfig, out: str | Path, *, resume: bool = True,
          console=None) -> Path:
    """Train ``config.model`` on the split's training subjects into run folder ``out``.

    With ``resume`` and an existing ``out/checkpoints/last.pt`` the run continues after the
    last finished epoch (settings other than data path, device and epoch count must match).
    ``console``: a ``rich.console.Console`` for messages and progress bars (None: quiet,
    except the from-scratch warning, which always goes to stderr). Returns ``out``.
    """
    run = Path(out)
    if run.exists() and not run.is_dir():
        raise RunError(f"{run}: exists and is not a folder")
    run.mkdir(parents=True, exist_ok=True)
    trainer = _Trainer(config, run, resume, console)
    if trainer.start_epoch >= config.total_epochs:
        _say(console, f"{run}: already trained for {trainer.start_epoch} epochs")
        return run
    _write_json(run / "config.json", asdict(config))
    trainer.load_data()
    return trainer.run_training()
