"""Which subjects train and which are predicted: the challenge split or leave-one-scanner-out."""

from __future__ import annotations

from wmheval.io.manifest import SCANNER_ORDER
from wmheval_baselines.data import Subject

TRAINING_SCANNERS = SCANNER_ORDER[:3]


def parse_split(split: str) -> str:
    """Validate ``challenge`` or ``loso:<scanner>`` (a training scanner key)."""
    if split == "challenge":
        return split
    if split.startswith("loso:"):
        scanner = split.removeprefix("loso:")
        if scanner in TRAINING_SCANNERS:
            return split
        raise ValueError(f"unknown split {split!r}: leave-one-scanner-out needs one of the "
                         f"training scanners {list(TRAINING_SCANNERS)}")
    raise ValueError(f"unknown split {split!r}: expected 'challenge' or 'loso:<scanner>' "
                     f"with <scanner> in {list(TRAINING_SCANNERS)}")


def split_subjects(subjects: list[Subject], split: str) -> tuple[list[Subject], list[Subject]]:
    """(training subjects, subjects to predict) for a split.

    ``challenge``: train on every ``training`` subject, predict every ``test`` subject.
    ``loso:<scanner>``: train on the training subjects of the two other training scanners,
    predict the held-out scanner's training subjects (they have references to score).
    """
    split = parse_split(split)
    training = [s for s in subjects if s.split == "training"]
    if split == "challenge":
        train, predict = training, [s for s in subjects if s.split == "test"]
    else:
        held_out = split.removeprefix("loso:")
        unknown = [s.id for s in training if s.scanner is None]
        if unknown:
            raise ValueError(f"scanner unknown for training subjects {unknown[:5]}: "
                             "cannot make a leave-one-scanner-out split")
        train = [s for s in training if s.scanner != held_out]
        predict = [s for s in training if s.scanner == held_out]
    if not train:
        raise ValueError(f"split {split!r}: no training subjects found")
    return train, predict
