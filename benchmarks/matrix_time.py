"""Time rt.evaluation_matrix with 1 and 2 CPUs (fresh Ray each), flights 120k rows, daily ticks.

    python benchmarks/matrix_time.py
"""
import sys, time, ray
import raytrain as rt
from raytrain.datasets import load_flights, FLIGHT_FEATURES
from sklearn.tree import DecisionTreeClassifier
class Training(rt.Component):
    def run(self, data):
        return DecisionTreeClassifier(max_depth=8, random_state=0).fit(data[FLIGHT_FEATURES], data["late"])
class Serving(rt.Component):
    def run(self, batch, model):
        return model.predict(batch[FLIGHT_FEATURES])
stream = rt.Stream.from_pandas(load_flights(n_rows=120_000), time="sched_dep", label="late", label_time="arrived", inputs=FLIGHT_FEATURES)
for cpus in (1, 2):
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    rt.backtest([Training, Serving], stream, tick="1D", warmup="30D", progress=False)  # start-up
    t = time.perf_counter()
    em = rt.evaluation_matrix([Training, Serving], stream, tick="1D", warmup="30D", max_concurrent=cpus)
    print(f"{cpus} CPU: matrix {em.values.shape} in {time.perf_counter() - t:.1f}s", flush=True)
    if cpus == 2:
        print(em.oracle(5).to_string())
    ray.shutdown()
