"""PyTorch baselines for WMH segmentation (optional extra: pip install "wmheval[baselines]")."""
