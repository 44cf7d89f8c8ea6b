"""Training: config, recipes, seeds, AMP/compile on CUDA, checkpoints, resume, run folder.

A run folder holds ``config.json`` (the :class:`TrainConfig`), ``metadata.json`` (seeds,
subjects, versions, the effective schedule, loss history with loader and step times, hashes
of the pretrained and trained weights, ``complete``) and ``checkpoints/last.pt``. Models with
a white-matter network (``resunet``, ``flair-fcn``) train it first (``wm_samples``), then the
WMH network (``samples``). Schedules count samples seen (augmented slices); they are cut into
passes over the slices, with a checkpoint after each pass. A time budget (``max_seconds``)
stops training between two batches and leaves the run *incomplete*: ``train`` with resume
finishes it, and prediction refuses an incomplete run unless told otherwise.
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

from wmheval.errors import InputError
from wmheval.io.atomic import write_atomic, write_text_atomic
from wmheval_baselines.data import (
    SliceDataset,
    augment,
    crop_to_region,
    find_subjects,
    load_volume,
    make_loader,
)
from wmheval_baselines.inference import (
    WM_MASKED_MODELS,
    WM_THRESHOLD,
    autocast_context,
    check_context_slices,
    decision_threshold,
    device_amp_dtype,
    fcn_vgg_input,
    white_matter_region,
    wm_net_input,
    wmh_net_input,
    wmh_output,
)
from wmheval_baselines.losses import balanced_cross_entropy, global_beta, plain_cross_entropy
from wmheval_baselines.models import FcnVgg, FlairFcn, ResUNet, WmUNet
from wmheval_baselines.models.fcn_vgg import VGG16_WIDTH, stage_widths
from wmheval_baselines.operating_point import (
    OPERATING_POINTS,
    POSTERIOR_LEVELS,
    dice_by_threshold,
    fit_operating_point,
    output_threshold,
)
from wmheval_baselines.recipes import recipe_settings
from wmheval_baselines.splits import parse_split, split_subjects
from wmheval_baselines.vgg_weights import apply_vgg16_features, sha256_file

MODELS = ("resunet", "flair-fcn", "fcn-vgg")
WM_NET_MODELS = WM_MASKED_MODELS
WM_SOURCES = ("net", "data")
"""Where the white-matter region comes from: a T1 network trained first (the papers'), or
the white-matter masks that come with the data (``synth/wm_mask.nii.gz`` or ``--wm-masks``),
for training and predicted subjects alike, as the threshold baseline uses them."""
BALANCED_LOSS_MODELS = ("resunet", "flair-fcn")
SCRATCH_WARNING = ("NO PRETRAINED WEIGHTS: the FCN/VGG model was trained FROM SCRATCH "
                   "(He-initialised VGG16), unlike the paper's ImageNet transfer "
                   "learning; pass --vgg-weights FILE (a torchvision or Caffe-port VGG16 "
                   "state dict).")
INCOMPLETE_WARNING = ("INCOMPLETE RUN: {run} stopped at its time budget after {done} of "
                      "{target} samples; resume training (same command) to finish it")
# Config fields that may change when a run is resumed (everything else must match).
RESUMABLE_CHANGES = {"data", "device", "num_workers", "amp", "compile", "channels_last",
                     "max_seconds", "samples", "wm_samples", "jobs"}


LR_SCHEDULES = ("constant", "cosine")


def learning_rate_at(config: TrainConfig, phase: str, samples_seen: int) -> float:
    """The learning rate after ``samples_seen`` samples of ``phase``: constant, or a cosine
    from the configured rate down to 0 at the phase's sample target (a function of samples
    seen, so a resumed run continues the same curve)."""
    if config.lr_schedule == "constant":
        return config.learning_rate
    fraction = min(max(samples_seen / max(config.target(phase), 1), 0.0), 1.0)
    return config.learning_rate * 0.5 * (1.0 + math.cos(math.pi * fraction))


class RunError(InputError):
    """A run folder cannot be created, resumed or read."""


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved as ``config.json``).

    Build one from a named recipe with :func:`config_from_recipe`; the defaults here are the
    ResU-Net paper recipe's.
    """

    model: str = "resunet"
    data: str = ""
    split: str = "challenge"
    recipe: str = "paper"       # the named recipe the settings came from (a label)
    samples: int = 200_000      # WMH network: samples (augmented slices) seen
    wm_samples: int = 200_000   # white-matter network (resunet, flair-fcn)
    batch_size: int = 16
    learning_rate: float = 1e-4
    weight_decay: float = 0.0   # L2 term in the gradient (Caffe's weight_decay)
    base_channels: int = 64     # U-Net width (64 = the original U-Net's)
    wm_base_channels: int = 64  # white-matter U-Net width
    fcn_k: int = 16             # specialised maps per VGG stage
    vgg_width: int = 64         # VGG16's first-stage width (64); less only from scratch
    seed: int = 0
    device: str = "auto"
    vgg_weights: str | None = None
    vgg_convention: str = "auto"   # auto (detected from the weights), torchvision, caffe
    wm_masks: str | None = None
    num_workers: int | None = None
    jobs: int = 1                  # processes for the FCN/VGG area openings
    amp: bool = True            # CUDA only
    compile: bool = True        # CUDA only
    channels_last: bool = True  # NHWC (2 CPU cores, demo widths: training 1.4x, inference 2.5x)
    max_seconds: float | None = None   # wall-clock budget for this invocation's training
    rotation_degrees: float = 15.0
    dilation_mm: float = 4.0
    wm_threshold: float = WM_THRESHOLD  # white-matter net read at p >= this
    area_opening_mm2: float = 60.0
    beta: float | None = 0.975  # class-balancing weight (paper 000); None: from the labels
    lr_schedule: str = "constant"  # constant (the papers'), cosine (decay to 0 over samples)
    intensity_augment: float = 0.0  # gamma range: each slice's input ** exp(U(-a, a)); 0 off
    bias_augment: float = 0.0   # random smooth log bias field, std up to this; 0 off
    operating_point: str = "posterior"  # read at posterior 0.5 (papers'); fitted: on training
    context_slices: int = 1     # FLAIR FCN: adjacent FLAIR slices as input channels (odd)
    wm_source: str = "net"      # white-matter region: net (a T1 network, the papers'), data

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}: expected one of {MODELS}")
        parse_split(self.split)
        if self.samples < 1 or self.wm_samples < 0 or self.batch_size < 1:
            raise ValueError("samples and batch_size must be >= 1, wm_samples >= 0")
        if self.beta is not None and not 0.0 < self.beta < 1.0:
            raise ValueError(f"beta must be in (0, 1), got {self.beta}")
        if self.learning_rate <= 0 or self.weight_decay < 0:
            raise ValueError("the learning rate must be > 0 and the weight decay >= 0")
        if self.operating_point not in OPERATING_POINTS:
            raise ValueError(f"unknown operating_point {self.operating_point!r}: expected one "
                             f"of {OPERATING_POINTS}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"unknown lr_schedule {self.lr_schedule!r}: expected one of "
                             f"{LR_SCHEDULES}")
        if self.wm_source not in WM_SOURCES:
            raise ValueError(f"unknown wm_source {self.wm_source!r}: expected one of "
                             f"{WM_SOURCES}")
        if self.wm_source == "data" and self.model not in WM_NET_MODELS:
            raise ValueError(f"wm_source 'data' is for the white-matter-masked models "
                             f"{WM_NET_MODELS}, not {self.model!r}")
        check_context_slices(self.context_slices)
        if self.context_slices != 1 and self.model != "flair-fcn":
            raise ValueError("context_slices is the FLAIR FCN's (flair-fcn); other models "
                             f"take one slice, got {self.context_slices}")
        stage_widths(self.vgg_width)  # a positive multiple of 8, or ValueError
        if self.vgg_weights and self.vgg_width != VGG16_WIDTH:
            raise ValueError(f"pretrained VGG16 weights need vgg_width {VGG16_WIDTH} "
                             f"(--vgg-width {VGG16_WIDTH}), got {self.vgg_width}: narrower "
                             "VGGs (the demo recipe's) train from scratch only")
        if self.intensity_augment and self.model == "fcn-vgg":
            raise ValueError("intensity_augment works on [0, 1] inputs: resunet, flair-fcn")
        if not 0.0 <= self.intensity_augment <= 1.0:
            raise ValueError("intensity_augment must be in [0, 1], got "
                             f"{self.intensity_augment}")
        if not 0.0 < self.wm_threshold < 1.0:
            raise ValueError(f"wm_threshold must be in (0, 1), got {self.wm_threshold}")
        if not 0.0 <= self.bias_augment <= 1.0:
            raise ValueError(f"bias_augment must be in [0, 1], got {self.bias_augment}")

    @classmethod
    def from_json(cls, path: Path) -> TrainConfig:
        try:
            values = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise RunError(f"{path}: cannot read run config: {error}") from error
        return cls.from_dict(values)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """A config from saved settings (keys it does not know, from other versions, are
        ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    @property
    def phases(self) -> tuple[str, ...]:
        """Training phases in order: ``wm`` (if the model has a white-matter net), ``wmh``."""
        if self.wm_from_net and self.wm_samples > 0:
            return ("wm", "wmh")
        return ("wmh",)

    @property
    def balanced(self) -> bool:
        """Whether the WMH network is trained with the class-balanced loss."""
        return self.model in BALANCED_LOSS_MODELS

    @property
    def wm_from_net(self) -> bool:
        """Whether a white-matter network gives the model its white-matter region."""
        return self.model in WM_NET_MODELS and self.wm_source == "net"

    def target(self, phase: str) -> int:
        return self.wm_samples if phase == "wm" else self.samples


def config_from_recipe(model: str, recipe: str = "paper", **overrides) -> TrainConfig:
    """A :class:`TrainConfig` with ``recipe``'s settings for ``model``, then ``overrides``
    (None values are ignored, so CLI options left unset keep the recipe's value)."""
    settings = recipe_settings(recipe, model)
    settings.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(f"unknown training settings {unknown}")
    return TrainConfig(model=model, recipe=recipe, **settings)


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
    if config.wm_from_net:
        models["wm"] = WmUNet(config.wm_base_channels)
    if config.model == "resunet":
        models["wmh"] = ResUNet(config.base_channels)
    elif config.model == "flair-fcn":
        models["wmh"] = FlairFcn(config.base_channels, in_channels=config.context_slices)
    else:
        models["wmh"] = FcnVgg(config.fcn_k, width=config.vgg_width)
    return models


def make_optimiser(config: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    """Adam with the config's learning rate and (L2, Caffe-style) weight decay."""
    return torch.optim.Adam(model.parameters(), lr=config.learning_rate,
                            weight_decay=config.weight_decay)


def run_progress(checkpoint: dict) -> dict[str, int]:
    """Samples seen per phase according to a checkpoint."""
    return {k: int(v) for k, v in checkpoint.get("progress", {}).items()}


def is_complete(config: TrainConfig, progress: dict[str, int]) -> bool:
    """Whether every phase has seen its scheduled samples."""
    return all(progress.get(phase, 0) >= config.target(phase) for phase in config.phases)


def lacks_operating_point(config: TrainConfig, checkpoint: dict) -> bool:
    """Whether a ``fitted`` run's checkpoint has no fitted operating point yet (the run was
    stopped after its last pass but before the fit): it must not be read at posterior 0.5."""
    return config.operating_point == "fitted" and not checkpoint.get("operating_point")


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


def pass_line(phase: str, number: int, loss: float, samples_per_second: float | None,
              loader_seconds: float, step_seconds: float) -> str:
    """One progress line per pass, short enough for an 80-column terminal."""
    def short(value: float, decimals: int, large: float) -> str:
        return f"{value:.{decimals}f}" if value < large else f"{value:.0f}"

    speed = "-" if samples_per_second is None else short(samples_per_second, 1, 1000)
    return (f"{phase} pass {number}: loss {loss:.4f}, {speed} samples/s; "
            f"data wait {short(loader_seconds, 2, 100)} s, "
            f"steps {short(step_seconds, 2, 100)} s")


def shows_bars(console) -> bool:
    """Progress bars only on a terminal: in a log or a pipe each (transient) bar would
    leave an empty line between the messages."""
    return console is not None and console.is_terminal


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
        self.progress = {phase: 0 for phase in config.phases}
        self.checkpoint: dict | None = None
        if resume and checkpoint_path(self.run).is_file():
            saved_config = TrainConfig.from_json(self.run / "config.json")
            _check_resumable(saved_config, config, self.run)
            self.checkpoint = load_checkpoint(self.run)
            if self.checkpoint.get("format") != 2:
                raise RunError(f"{self.run}: checkpoint of an older format; use --no-resume")
            for name, model in self.models.items():
                model.load_state_dict(self.checkpoint["models"][name])
            self.progress.update(run_progress(self.checkpoint))
            previous = self.run / "metadata.json"
            if previous.is_file():
                self.metadata = json.loads(previous.read_text(encoding="utf-8"))
            if config.model == "fcn-vgg":
                self.models["wmh"].set_convention(self.checkpoint["vgg_convention"])
            _say(console, f"resuming {self.run} after {self.progress} samples")
        elif config.model == "fcn-vgg":
            self._init_vgg()
        for model in self.models.values():
            model.to(self.device)
            if config.channels_last:
                model.to(memory_format=torch.channels_last)
        self.metadata["device"] = str(self.device)
        self.metadata["cuda_device_name"] = (torch.cuda.get_device_name(self.device)
                                             if self.cuda else None)
        amp = device_amp_dtype(self.device, config.amp)
        self.metadata["amp_dtype"] = None if amp is None else str(amp).removeprefix("torch.")

    def _fresh_metadata(self) -> dict:
        return {
            "model": self.config.model, "recipe": self.config.recipe,
            "split": self.config.split, "seed": self.config.seed,
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "python": sys.version.split()[0], "platform": platform.platform(),
            "torch": str(torch.__version__), "numpy": np.__version__,
            "pretrained_weights": None, "weights_warning": None, "vgg_convention": None,
            "history": [], "complete": False,
        }

    def _init_vgg(self) -> None:
        path = self.config.vgg_weights
        if path:
            digest, convention = apply_vgg16_features(self.models["wmh"], path,
                                                      self.config.vgg_convention)
            self.metadata["pretrained_weights"] = {"path": str(Path(path).resolve()),
                                                   "sha256": digest, "convention": convention}
            _say(self.console, f"VGG16 weights loaded from {path} (sha256 {digest[:12]}..., "
                 f"{convention} input normalisation)")
        else:
            convention = ("torchvision" if self.config.vgg_convention == "auto"
                          else self.config.vgg_convention)
            self.models["wmh"].set_convention(convention)
            self.metadata["weights_warning"] = SCRATCH_WARNING
            _say(self.console, "WARNING: " + SCRATCH_WARNING, "bold red")
            if self.console is None:
                print("WARNING: " + SCRATCH_WARNING, file=sys.stderr)
        self.metadata["vgg_convention"] = self.models["wmh"].convention

    # --- data -----------------------------------------------------------------------------
    def load_data(self) -> None:
        config = self.config
        subjects = find_subjects(config.data)
        train, predict = split_subjects(subjects, config.split)
        need_wm = "wm" in config.phases or config.wm_source == "data"
        # The white-matter network's training label holds the lesions; a mask from the data
        # is used as read, at training as at prediction (no labels there).
        self.volumes = [load_volume(s, wm_masks=config.wm_masks, need_wm=need_wm,
                                    lesions_in_wm=config.wm_source == "net")
                        for s in self._progress(train, "reading volumes")]
        self.metadata["training_subjects"] = [s.id for s in train]
        self.metadata["predict_subjects"] = [s.id for s in predict]
        beta = None
        if config.balanced:
            beta = config.beta if config.beta is not None else global_beta(
                [v.wmh for v in self.volumes])
            self.metadata["beta_convention"] = (
                "beta = mean over volumes of |background|/|labelled|; loss = -(beta*sum_fg "
                "log p + (1-beta)*sum_bg log(1-p)) / n_labelled; read at p >= beta")
        self.metadata["beta"] = beta
        self.metadata["threshold"] = decision_threshold(beta)

    def phase_dataset(self, phase: str) -> SliceDataset:
        """The phase's training slices, restricted (:func:`crop_to_region`) to the head
        (white-matter net, FCN/VGG) or to the white-matter mask the output is confined to."""
        config = self.config
        pairs = []
        for volume in self._progress(self.volumes, f"{phase} training slices"):
            if phase == "wm":
                # Volume.wm is the white-matter mask united with the WMH (label 1).
                pairs.append(crop_to_region(wm_net_input(volume), volume.wm, volume.t1 > 0))
                continue
            if config.model in WM_NET_MODELS:
                mask = white_matter_region(config, self.models, volume, self.device)
                inputs = wmh_net_input(config.model, volume, mask, config.context_slices)
                pairs.append(crop_to_region(inputs, volume.wmh, mask))
            else:
                inputs = fcn_vgg_input(volume, config.area_opening_mm2, config.jobs)
                pairs.append(crop_to_region(inputs, volume.wmh, volume.flair > 0))
        pairs = [(x, y) for x, y in pairs if len(x)]
        return SliceDataset([x for x, _ in pairs], [y for _, y in pairs])

    def _progress(self, items, description: str):
        if not shows_bars(self.console):
            yield from items
            return
        from rich.progress import track

        yield from track(items, description=description, console=self.console,
                         transient=True)

    # --- training -------------------------------------------------------------------------
    def deadline(self) -> float:
        budget = self.config.max_seconds
        return math.inf if budget is None else self.started + budget

    def schedule(self, phase: str, slices: int) -> dict:
        """The effective schedule of a phase (logged in metadata and on the console)."""
        config = self.config
        target = config.target(phase)
        return {"samples": target, "slices": slices, "passes": round(target / slices, 2),
                "batch_size": config.batch_size,
                "steps": math.ceil(target / config.batch_size),
                "learning_rate": config.learning_rate, "weight_decay": config.weight_decay,
                "lr_schedule": config.lr_schedule,
                "intensity_augment": config.intensity_augment,
                "bias_augment": config.bias_augment, "recipe": config.recipe}

    def run_training(self) -> Path:
        config = self.config
        self.metadata["complete"] = False  # until the (possibly longer) schedule is done
        for phase in config.phases:
            target = config.target(phase)
            if self.progress[phase] >= target:
                continue
            dataset, optimiser, scaler, runner = self._start_phase(phase)
            schedule = self.schedule(phase, len(dataset))
            self.metadata.setdefault("schedule", {})[phase] = schedule
            _say(self.console, f"{phase} network: {schedule['samples']} samples = "
                 f"{schedule['passes']} passes over {schedule['slices']} slices, batch "
                 f"{schedule['batch_size']}, lr {schedule['learning_rate']:g} "
                 f"({schedule['lr_schedule']}), weight decay "
                 f"{schedule['weight_decay']:g} (recipe {schedule['recipe']})")
            while self.progress[phase] < target:
                done = self.progress[phase]
                chunk, offset = divmod(done, len(dataset))
                count = min(len(dataset) - offset, target - done)
                record, seen, stopped = self._run_pass(phase, dataset, chunk, offset, count,
                                                       optimiser, scaler, runner)
                self.progress[phase] = done + seen
                record["samples_seen"] = self.progress[phase]
                self.metadata["history"].append(record)
                self._save(phase, optimiser, scaler)
                if stopped:
                    return self._stop_incomplete(phase)
        if config.operating_point == "fitted":
            self._fit_operating_point()
        self.metadata["complete"] = True
        self.metadata["stopped_by_time_budget"] = None
        self.metadata["checkpoint_sha256"] = sha256_file(checkpoint_path(self.run))
        _write_json(self.run / "metadata.json", self.metadata)
        return self.run

    def _fit_operating_point(self) -> None:
        """Fit the output threshold on the training subjects' mean Dice (the ``fitted``
        operating point) and store it in the checkpoint, which prediction reads it from."""
        beta = self.metadata.get("beta")
        thresholds = [output_threshold(level, beta) for level in POSTERIOR_LEVELS]
        curves = [dice_by_threshold(wmh_output(self.config, self.models, volume, self.device),
                                    volume.wmh, thresholds)
                  for volume in self._progress(self.volumes, "fitting the operating point")]
        point = fit_operating_point(np.array(curves), beta)
        self.metadata["threshold"] = point.threshold
        self.metadata["operating_point"] = asdict(point)
        state = load_checkpoint(self.run)
        state["threshold"] = point.threshold
        state["operating_point"] = asdict(point)
        write_atomic(checkpoint_path(self.run), lambda p: torch.save(state, p))
        _say(self.console, f"operating point: posterior {point.posterior:.2f} (output >= "
             f"{point.threshold:.4f}), mean Dice {point.mean_dice:.3f} over "
             f"{point.subjects} training subjects")

    def _stop_incomplete(self, phase: str) -> Path:
        message = INCOMPLETE_WARNING.format(run=self.run, done=self.progress[phase],
                                            target=self.config.target(phase))
        self.metadata["complete"] = False
        self.metadata["stopped_by_time_budget"] = {"phase": phase,
                                                   "samples_seen": self.progress[phase]}
        self.metadata["checkpoint_sha256"] = sha256_file(checkpoint_path(self.run))
        _write_json(self.run / "metadata.json", self.metadata)
        _say(self.console, "WARNING: " + message, "bold red")
        return self.run

    def _start_phase(self, phase: str):
        dataset = self.phase_dataset(phase)
        self.metadata[f"canvas_{phase}"] = list(dataset.canvas)
        model = self.models[phase]
        optimiser = make_optimiser(self.config, model)
        use_fp16 = device_amp_dtype(self.device, self.config.amp) == torch.float16
        scaler = torch.amp.GradScaler("cuda", enabled=use_fp16)
        if self.checkpoint is not None and self.checkpoint.get("phase") == phase:
            optimiser.load_state_dict(self.checkpoint["optimiser"])
            scaler.load_state_dict(self.checkpoint["scaler"])
        runner = model
        if self.cuda and self.config.compile:
            runner = torch.compile(model)
        return dataset, optimiser, scaler, runner

    def _loss(self, phase: str, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if phase == "wmh" and self.config.balanced:
            return balanced_cross_entropy(logits, labels, self.metadata["beta"])
        return plain_cross_entropy(logits, labels)

    def _run_pass(self, phase, dataset, chunk, offset, count, optimiser, scaler, runner):
        """Train on ``count`` samples of pass ``chunk`` from ``offset``; (record, seen,
        stopped). The loss is summed on the device: one host sync per pass, not per step."""
        config = self.config
        phase_index = config.phases.index(phase)
        self.models[phase].train()
        loader, first_batch = make_loader(
            dataset, config.batch_size, seed=config.seed, epoch=chunk, phase=phase_index,
            offset=offset, count=count, device=self.device, num_workers=config.num_workers)
        deadline = self.deadline()
        offset_seen = self.progress[phase]  # samples of this phase before this pass
        total = torch.zeros((), device=self.device)
        steps, seen, stopped = 0, 0, False
        loader_seconds = step_seconds = 0.0
        start = time.monotonic()
        bar = None
        if shows_bars(self.console):
            from rich.progress import Progress

            bar = Progress(console=self.console, transient=True)
            bar.start()
            task = bar.add_task(f"{phase} pass {chunk + 1}", total=len(loader))
        try:
            waited = time.perf_counter()
            for batch_index, (x, y) in enumerate(loader, start=first_batch):
                ready = time.perf_counter()
                loader_seconds += ready - waited
                x = x.to(self.device, non_blocking=self.cuda).float()
                y = y.to(self.device, non_blocking=self.cuda)
                generator = torch.Generator().manual_seed(
                    ((config.seed * 1_000_003 + phase_index) * 100_003 + chunk) * 10_007
                    + batch_index)
                x, y = augment(x, y, generator, config.rotation_degrees,
                               gamma_range=config.intensity_augment,
                               bias_range=config.bias_augment)
                learning_rate = learning_rate_at(config, phase, offset_seen + seen)
                for group in optimiser.param_groups:
                    group["lr"] = learning_rate
                if config.channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                optimiser.zero_grad(set_to_none=True)
                with autocast_context(self.device, config.amp):
                    logits = runner(x)
                loss = self._loss(phase, logits, y)
                scaler.scale(loss).backward()
                scaler.step(optimiser)
                scaler.update()
                total += loss.detach()
                steps += 1
                seen += x.shape[0]
                if bar is not None:
                    bar.update(task, advance=1)
                waited = time.perf_counter()
                step_seconds += waited - ready
                if time.monotonic() > deadline and seen < count:
                    stopped = True
                    break
        finally:
            if bar is not None:
                bar.stop()
        seconds = time.monotonic() - start
        mean_loss = float(total) / max(steps, 1)  # the one host sync of the pass
        record = {"phase": phase, "pass": chunk + 1, "loss": mean_loss, "samples": seen,
                  "seconds": round(seconds, 3),
                  "samples_per_second": round(seen / seconds, 2) if seconds else None,
                  "loader_seconds": round(loader_seconds, 3),
                  "step_seconds": round(step_seconds, 3), "partial": stopped}
        _say(self.console, pass_line(phase, chunk + 1, mean_loss, record["samples_per_second"],
                                     loader_seconds, step_seconds))
        return record, seen, stopped

    def _save(self, phase: str, optimiser, scaler) -> None:
        state = {
            "format": 2, "progress": dict(self.progress), "phase": phase,
            "models": {name: {k: v.detach().cpu() for k, v in m.state_dict().items()}
                       for name, m in self.models.items()},
            "optimiser": optimiser.state_dict(), "scaler": scaler.state_dict(),
            "config": asdict(self.config), "beta": self.metadata.get("beta"),
            "threshold": self.metadata.get("threshold"),
            "vgg_convention": self.metadata.get("vgg_convention"),
        }
        write_atomic(checkpoint_path(self.run), lambda p: torch.save(state, p))
        self.metadata["progress"] = dict(self.progress)
        _write_json(self.run / "metadata.json", self.metadata)


def train(config: TrainConfig, out: str | Path, *, resume: bool = True,
          console=None) -> Path:
    """Train ``config.model`` on the split's training subjects into run folder ``out``.

    With ``resume`` and an existing ``out/checkpoints/last.pt`` the run continues where it
    stopped (settings other than data path, device, sample counts and time budget must
    match); a run stopped by its time budget is finished this way.
    ``console``: a ``rich.console.Console`` for messages and progress bars (None: quiet,
    except the from-scratch warning, which always goes to stderr). Returns ``out``.
    """
    run = Path(out)
    if run.exists() and not run.is_dir():
        raise RunError(f"{run}: exists and is not a folder")
    run.mkdir(parents=True, exist_ok=True)
    trainer = _Trainer(config, run, resume, console)
    if (trainer.checkpoint is not None and is_complete(config, trainer.progress)
            and not lacks_operating_point(config, trainer.checkpoint)):
        _say(console, f"{run}: already trained ({trainer.progress} samples)")
        return run
    _write_json(run / "config.json", asdict(config))
    trainer.load_data()
    return trainer.run_training()
