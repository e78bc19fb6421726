"""A PyTorch network as the model: custom components, no scikit-learn wrapper needed.

Training fits a small multi-layer perceptron (standardised inputs, two hidden layers, Adam) on the
labeled rows visible at the simulated now and returns it with its scaling; Serving thresholds its
logits. Anything picklable can be a model: Ray ships it from the training actor to the serving one.
Seeds and one thread per model make each fit repeatable, so the backtest is deterministic.

The stream is SEA with abrupt drifts at a third and two thirds (labels known 30 minutes after each
event); three policies are swept: never, every 12 hours, and an accuracy trigger.

PyTorch is not in the examples extra (it is large): pip install -e ".[torch]".

Run:  python examples/pytorch_model.py            (20,000 events)
      python examples/pytorch_model.py --fast     (6,000 events)
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import torch
from torch import nn

import raytrain as rt
from raytrain.datasets import sea

FEATURES = ["x0", "x1", "x2"]
EPOCHS, BATCH = 20, 256


class Scaled(nn.Module):
    """The network with the training data's mean and scale, so serving needs nothing else."""

    def __init__(self, net: nn.Module, mean: np.ndarray, std: np.ndarray):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

    def forward(self, x):
        return self.net((x - self.mean) / self.std).squeeze(-1)


class Training(rt.Component):
    def run(self, data):
        torch.manual_seed(0)
        torch.set_num_threads(1)                   # Ray runs one backtest per CPU
        X = data[FEATURES].to_numpy(np.float32)
        y = torch.as_tensor(data["y"].to_numpy(np.float32))
        mean, std = X.mean(axis=0), X.std(axis=0) + 1e-6
        model = Scaled(nn.Sequential(nn.Linear(len(FEATURES), 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                                     nn.Linear(32, 1)), mean, std)
        X = torch.as_tensor(X)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        loss_fn = nn.BCEWithLogitsLoss()
        generator = torch.Generator().manual_seed(0)
        for _ in range(EPOCHS):
            for idx in torch.randperm(len(X), generator=generator).split(BATCH):
                optimizer.zero_grad()
                loss_fn(model(X[idx]), y[idx]).backward()
                optimizer.step()
        return model.eval()


class Serving(rt.Component):
    def run(self, batch, model):
        torch.set_num_threads(1)
        with torch.no_grad():
            logits = model(torch.as_tensor(batch[FEATURES].to_numpy(np.float32)))
        return (logits.numpy() > 0).astype(np.int64)


def main(argv=None) -> rt.SweepResult:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fast", action="store_true", help="a shorter stream (6,000 events)")
    parser.add_argument("--out", default=None, help="save every result under this directory (resumable)")
    parser.add_argument("--address", default=None, help="Ray cluster address (default: a local Ray)")
    args = parser.parse_args(argv)

    df = sea(n=6_000 if args.fast else 20_000, drift_at=(1 / 3, 2 / 3), seed=0, freq="1min", label_delay="30min")
    stream = rt.Stream.from_pandas(df, time="time", label="y", label_time="label_time", inputs=FEATURES)
    print(stream)
    print("drifts at", ", ".join(str(d) for d in df.attrs["drift_points"]))
    sweep = rt.sweep([Training, Serving], stream, policies={
        "never": rt.Never(),
        "every 12h": rt.Every("12h"),
        "accuracy < 0.8": rt.MetricBelow("accuracy", 0.8, last=300).with_cooldown("6h"),
    }, tick="1h", warmup="6h", window=rt.Sliding("6h"), out=args.out, address=args.address)

    t = sweep.table()
    print(f"\n{sweep}; best: {sweep.best()}")
    print(pd.DataFrame({"mean accuracy": t["accuracy"], "worst hour": t["accuracy_worst"], "retrains": t["retrains"],
                        "training s": t["train_seconds"], "status": t["status"]})
          .to_string(float_format=lambda v: f"{v:.4f}"))
    return sweep


if __name__ == "__main__":
    main()
