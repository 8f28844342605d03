"""The Python peer of bench/run.ts, as a server so that each repetition can
run spool, Piscina and Python in turn: concurrent.futures.ProcessPoolExecutor
with the same worker count. Usage: python3 python_server.py '<json config>',
then one JSON command per line on stdin, one JSON answer per line on stdout."""

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


def tiny(x):
    return x * 2 + 1


def noop(_):
    return 0


WORK = {"sumSquaresBig": sum_squares_big, "sumSquaresNumber": sum_squares_number}


def calibrate(ms):
    n = 10_000
    while True:
        start = time.perf_counter()
        sum_squares_number(n)
        took = (time.perf_counter() - start) * 1000
        if took > 20:
            return round(n * ms / took)
        n *= 4


def check(results, count):
    if len(results) != count or results[-1] != (count - 1) * 2 + 1:
        raise RuntimeError("The tiny items came back wrong")


def main():
    config = json.loads(sys.argv[1])
    workers = config["workers"]
    # Started, and every worker process has run once: the "warm" pool.
    warm = ProcessPoolExecutor(max_workers=workers)
    list(warm.map(noop, range(workers * 4)))

    def long(command):
        fn, n, tasks, mode = WORK[command["name"]], command["n"], command["tasks"], command["mode"]
        start = time.perf_counter()
        if mode == "serial":
            for _ in range(tasks):
                fn(n)
        elif mode == "fresh":
            with ProcessPoolExecutor(max_workers=workers) as pool:
                list(pool.map(fn, [n] * tasks))
        else:
            list(warm.map(fn, [n] * tasks))
        return {"ms": (time.perf_counter() - start) * 1000}

    def tiny_map(command, fresh):
        items = list(range(command["count"]))
        start = time.perf_counter()
        if fresh:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(tiny, items, chunksize=command["size"]))
        else:
            results = list(warm.map(tiny, items, chunksize=command["size"]))
        ms = (time.perf_counter() - start) * 1000
        check(results, command["count"])
        return {"ms": ms}

    ops = {
        "calibrate": lambda c: {"n": calibrate(c["ms"])},
        "long": long,
        "tiny": lambda c: tiny_map(c, False),
        "mapFresh": lambda c: tiny_map(c, True),
    }
    print(json.dumps({"ready": True, "version": sys.version.split()[0]}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "quit":
            break
        try:
            answer = ops[command["op"]](command)
        except Exception as error:  # reported to bench/run.ts, which stops
            answer = {"error": repr(error)}
        print(json.dumps(answer), flush=True)
    warm.shutdown()


if __name__ == "__main__":
    main()
