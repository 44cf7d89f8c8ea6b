"""Throughput of the bundled baselines: training slices/s and inference seconds per volume.

    python benchmarks/bench_baselines.py --size 256 --depth 48 --base-channels 64 --threads 2

Random inputs (no data needed); CUDA is used when available (AMP). The networks and inputs
are channels-last (NHWC) on every device, as the trainer and ``predict`` run them.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd


def bench(model_name: str, size: int, depth: int, batch: int, steps: int, base: int,
          device_name: str) -> dict:
    import numpy as np
    import torch
    from wmheval_baselines.inference import autocast_context, predict_probabilities
    from wmheval_baselines.losses import balanced_cross_entropy
    from wmheval_baselines.models import FcnVgg, ResUNet, WmUNet
    from wmheval_baselines.train import resolve_device

    device = resolve_device(device_name)
    cuda = device.type == "cuda"
    torch.manual_seed(0)
    if model_name == "resunet":
        nets = [("wm", WmUNet(base), 1), ("wmh", ResUNet(base), 2)]
    else:
        nets = [("wmh", FcnVgg(16), 3)]
    train_seconds, infer_seconds = 0.0, 0.0
    for _, net, channels in nets:
        net.to(device).to(memory_format=torch.channels_last)
        optimiser = torch.optim.Adam(net.parameters(), 1e-4)
        x = torch.rand(batch, channels, size, size, device=device) * (255 if channels == 3 else 1)
        x = x.contiguous(memory_format=torch.channels_last)
        y = (torch.rand(batch, size, size, device=device) < 0.02).long()
        for step in range(steps + 2):
            if step == 2:
                if cuda:
                    torch.cuda.synchronize()
                start = time.perf_counter()
            optimiser.zero_grad(set_to_none=True)
            with autocast_context(device, True):
                logits = net(x)
            balanced_cross_entropy(logits, y, 0.975).backward()
            optimiser.step()
        if cuda:
            torch.cuda.synchronize()
        train_seconds += (time.perf_counter() - start) / (steps * batch)
        volume = np.random.default_rng(0).random((depth, channels, size, size), np.float32)
        predict_probabilities(net, volume[:2], device)
        start = time.perf_counter()
        predict_probabilities(net, volume, device)
        infer_seconds += time.perf_counter() - start
    return {"model": model_name, "device": str(device), "slice": f"{size}x{size}",
            "base_channels": base if model_name == "resunet" else 64,
            "train_slices_per_s": 1.0 / train_seconds,
            "inference_s_per_volume": infer_seconds, "volume_slices": depth}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resunet,fcn-vgg")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--depth", type=int, default=48)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--base-channels", type=int, default=64)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    import torch

    from wmheval.io.tables import render_table

    if args.threads:
        torch.set_num_threads(args.threads)
    rows = [bench(m, args.size, args.depth, args.batch, args.steps, args.base_channels,
                  args.device) for m in args.models.split(",")]
    print(render_table(pd.DataFrame(rows), "md", float_format="{:.2f}"))


if __name__ == "__main__":
    main()
