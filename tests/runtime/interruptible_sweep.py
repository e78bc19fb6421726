"""A sweep run as a user would run it, for the Ctrl-C test in test_faults.py (not a test itself).

    python interruptible_sweep.py OUT RECORDS ADDRESS

Six policies one at a time (max_concurrent=1), each a little slow, saved under OUT. Every serving
component instance (one per backtest that starts) records its ticks in its own file under RECORDS.
"""

import os
import sys
import time
import uuid

import raytrain as rt
from raytrain.datasets import sea

X = ["x0", "x1", "x2"]


def main(out, records, address):
    class Training(rt.Component):
        def run(self, data):
            return float(data["y"].mean())

    class Serving(rt.Component):
        def run(self, batch, model):
            time.sleep(0.01)
            return [int(model > 0.5)] * len(batch)

        def after_run(self):
            if not hasattr(self, "_record"):
                self._record = os.path.join(records, f"serving-{uuid.uuid4().hex}.txt")
            with open(self._record, "a") as f:
                f.write(f"{self.now.value}\n")

    df = sea(n=3_000, seed=1, freq="10min", label_delay="30min")
    stream = rt.Stream.from_pandas(df, time="time", label="y", label_time="label_time", inputs=X)
    policies = {f"every_{d}D": rt.Every(f"{d}D") for d in range(1, 7)}
    rt.sweep([Training, Serving], stream, policies, out=out, max_concurrent=1, address=address, verbose=True,
             tick="6h", warmup="2D")
    print("SWEEP DONE", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
