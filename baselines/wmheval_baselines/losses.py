"""The global class-balancing weighted cross-entropy of the ResU-Net and FCN papers (eq. 2)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

IGNORE_LABEL = 2  # "other pathology" in the challenge labels: no loss there, as in scoring


def global_beta(label_volumes: list[np.ndarray]) -> float:
    """``beta = mean_i(|Y-_i| / |Y_i|)``: the background fraction averaged over volumes.

    Convention (ResU-Net paper, 000, eq. 2): ``beta`` is the mean over training volumes of
    the fraction of *background* voxels, so it is close to 1 (~0.975 on the challenge data).
    It multiplies the *foreground* (WMH) term and ``1 - beta`` (the paper's "global loss
    weight 0.025") multiplies the background term. Voxels labelled 2 (ignored) count in
    neither set. The FCN abstract (001) writes ``beta = mean(Y+/Y)``; we follow 000.
    """
    fractions = []
    for labels in label_volumes:
        labels = np.asarray(labels)
        foreground = np.count_nonzero(labels == 1)
        background = np.count_nonzero((labels != 1) & (labels != IGNORE_LABEL))
        total = foreground + background
        if total:
            fractions.append(background / total)
    if not fractions:
        raise ValueError("cannot compute beta: no labelled voxels in the training volumes")
    return float(np.mean(fractions))


def balanced_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, beta: float
                           ) -> torch.Tensor:
    """``-(beta * sum_{Y+} log p + (1 - beta) * sum_{Y-} log(1 - p)) / n_labelled``.

    ``logits``: (N, 2, H, W) two-class scores (softmax gives ``p`` = P(WMH));
    ``labels``: (N, H, W) integers 0/1/2 (2 = ignored). The paper's sum is divided by the
    number of labelled pixels so that the learning rate does not depend on the batch size
    (a constant factor, the optimum is unchanged).
    """
    log_probabilities = F.log_softmax(logits.float(), dim=1)
    foreground = labels == 1
    background = labels == 0
    labelled = (foreground | background).sum().clamp_min(1)
    loss = -(beta * log_probabilities[:, 1][foreground].sum()
             + (1.0 - beta) * log_probabilities[:, 0][background].sum())
    return loss / labelled


def plain_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Multinomial logistic loss (FCN/VGG paper, 003) averaged over labelled pixels."""
    return F.cross_entropy(logits.float(), labels.long(), ignore_index=IGNORE_LABEL)
