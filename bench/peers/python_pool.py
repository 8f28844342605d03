"""The Python peer of bench/run.ts: the background texts' workload, serial
and on concurrent.futures.ProcessPoolExecutor with the same worker count.
Usage: python3 python_pool.py '<json config>'; prints one JSON object."""

import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor


def sum_squares_big(n):
    return sum(i * i for i in range(n))


def sum_squares_number(n):
    total = 0.0
    for i in range(n):
        total += i * i
    return total


def calibrate_number(ms):
    n = 10_000
    while True:
        start = time.perf_counter()
        sum_squares_number(n)
        took = (time.perf_counter() - start) * 1000
        if took > 20:
            return round(n * ms / took)
        n *= 4


def median(xs):
    return sorted(xs)[len(xs) // 2]


def long_tasks(fn, n, config):
    serial, parallel, warm = [], [], []
    tasks, workers = config["tasks"], config["workers"]
    with ProcessPoolExecutor(max_workers=workers) as warm_pool:
        # Started, and every worker process has run the workload once.
        list(warm_pool.map(fn, [n] * tasks))
        for _ in range(config["repeat"]):
            start = time.perf_counter()
            for _ in range(tasks):
                fn(n)
            serial.append((time.perf_counter() - start) * 1000)
            # A fresh pool each time, its start included, as for spool and Piscina.
            start = time.perf_counter()
            with ProcessPoolExecutor(max_workers=workers) as pool:
                list(pool.map(fn, [n] * tasks))
            parallel.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            list(warm_pool.map(fn, [n] * tasks))
            warm.append((time.perf_counter() - start) * 1000)
    return {"serialMs": median(serial), "parallelMs": median(parallel), "warmMs": median(warm)}


def main():
    config = json.loads(sys.argv[1])
    out = {"python": sys.version.split()[0]}
    out["big"] = long_tasks(sum_squares_big, config["bigN"], config)
    n = calibrate_number(config["numberMs"])
    out["number"] = {"n": n, **long_tasks(sum_squares_number, n, config)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
