"""The timing cells every benchmark suite shares: the networks and engines
measured, the yardstick loop, and one measurement per cell, each run in a
fresh process (``python -m benchmarks.cells KIND ARGS``, through
:func:`run_cell`) so that no cell's compiled code, caches or memory reach
another's; and :func:`write`, which saves a result with the command that
wrote it."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "benchmarks"

NETWORKS = {
    "16-8-1": (16, 8, 1),
    "64-16-16-4": (64, 16, 16, 4),
    "784-200-200": (784, 200, 200),
    "784-200-200-sparse": (784, 200, 200),
}


#: '-sparse': ~10 % of the units on (biases -2.2, 10 % of pixels on, weights frozen at 0) instead of
#: the ~50 % of an untrained machine: what event-driven propagation is for
ENGINES = [
    "numpy-reference",
    "numpy-tuned",
    "brian2-numpy",
    "brian2-cython",
    "brian2-cpp_standalone",
    "brian2-cpp_standalone-event",
]


NOT_MEASURED = {("784-200-200-sparse", "brian2-numpy"), ("784-200-200-sparse", "brian2-cython")}


#: examples per cell (full, quick): enough for > ~2 s of training on this machine
EXAMPLES = {
    ("16-8-1", "numpy-reference"): (40_000, 5_000),
    ("16-8-1", "brian2-numpy"): (10_000, 2_000),
    ("16-8-1", "brian2-cython"): (40_000, 5_000),
    ("16-8-1", "brian2-cpp_standalone"): (2_000_000, 200_000),
    ("64-16-16-4", "numpy-reference"): (20_000, 3_000),
    ("64-16-16-4", "brian2-numpy"): (5_000, 1_000),
    ("64-16-16-4", "brian2-cython"): (20_000, 3_000),
    ("64-16-16-4", "brian2-cpp_standalone"): (500_000, 50_000),
    ("784-200-200", "numpy-reference"): (2_000, 300),
    ("784-200-200", "brian2-numpy"): (300, 50),
    ("784-200-200", "brian2-cython"): (1_000, 100),
    ("784-200-200", "brian2-cpp_standalone"): (5_000, 500),
    ("16-8-1", "brian2-cpp_standalone-event"): (2_000_000, 200_000),
    ("64-16-16-4", "brian2-cpp_standalone-event"): (500_000, 50_000),
    ("784-200-200", "brian2-cpp_standalone-event"): (5_000, 500),
    ("784-200-200-sparse", "numpy-reference"): (2_000, 300),
    ("784-200-200-sparse", "brian2-cpp_standalone"): (5_000, 500),
    ("784-200-200-sparse", "brian2-cpp_standalone-event"): (10_000, 1_000),
    ("16-8-1", "numpy-tuned"): (40_000, 5_000),
    ("64-16-16-4", "numpy-tuned"): (20_000, 3_000),
    ("784-200-200", "numpy-tuned"): (2_000, 300),
    ("784-200-200-sparse", "numpy-tuned"): (2_000, 300),
}


PROTOCOL_EXAMPLES = 2_000_000  # the paper's bars protocol


REFERENCE_PROTOCOL_EXAMPLES = 200_000  # the per-example NumPy loop is timed on this many and scaled


#: populations measured: (network, machines, examples per machine (full, quick))
POPULATIONS = [("16-8-1", 16, (200_000, 20_000)), ("64-16-16-4", 10, (50_000, 5_000))]


#: engines of the population table: the yardstick (reference, one machine at a
#: time), the NumPy loop vectorised over the machines, the Brian2 population
POPULATION_ENGINES = ["numpy-reference", "vectorised", "brian2-cpp_standalone", "spiking-cpp_standalone"]
#: the spiking engine of the population table: the bridge limit, one clock step per window
#: (hm_neuro.spiking: 2L + 1 windows and two learning steps per example)
SPIKING_WINDOW_MS, SPIKING_DT_MS = 1.0, 1.0
#: the reference is timed on this fraction of the examples (it is the slowest) and scaled
REFERENCE_FRACTION = 0.05


def run_cell(argv: list, env=None) -> tuple:
    """One cell (``python -m benchmarks.cells ARGV``) in a fresh process:
    ``(its row, None)``, or ``(None, the last line of its error)``."""
    env = dict(env if env is not None else os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    r = subprocess.run(
        [sys.executable, "-m", "benchmarks.cells", *map(str, argv)], capture_output=True, text=True, env=env, cwd=ROOT
    )
    if r.returncode == 0:
        return json.loads(r.stdout.strip().splitlines()[-1]), None
    return None, (r.stderr.strip().splitlines() or ["?"])[-1]


def write(out, result: dict) -> dict:
    """Save ``result`` (atomically) with the command that wrote it."""
    sys.path.insert(0, str(ROOT))
    from hm_neuro.files.model_io import save_json

    result = {"command": " ".join(["python", "benchmarks/bench.py", *sys.argv[1:]]), **result}
    save_json(out, result)
    return result


def tuned_loop(layers, data, n, rate=0.01, nonnegative=(), seed=0):
    """A tuned per-example NumPy wake-sleep loop: the yardstick a NumPy user
    would write for speed (uniforms drawn a block at a time, BLAS
    vector-matrix products, and each weight update touching only the rows of
    presynaptic units that are on).  Same algorithm as the engines (eqs. 1,
    4, 7; one wake and one sleep phase per example), no lesions, clamps or
    gates.  ``G[k]`` (n[k+1], n[k]) is top-down into layer k, ``R[k]`` (n[k],
    n[k+1]) bottom-up out of it.  Returns the parameters."""
    import numpy as np

    L = len(layers) - 1
    rng = np.random.default_rng(seed)
    G = [np.zeros((layers[k + 1], layers[k])) for k in range(L)]
    R = [np.zeros((layers[k], layers[k + 1])) for k in range(L)]
    g = [np.zeros(m) for m in layers]
    r = [None] + [np.zeros(m) for m in layers[1:]]
    # small weight sets: a dense outer product costs less than finding the active rows
    small = [layers[k] * layers[k + 1] < 4096 for k in range(L)]
    block = 1000
    per_example = sum(layers[1:]) + sum(layers)
    for start in range(0, n, block):
        U = rng.random((min(block, n - start), per_example))
        for row, u in enumerate(U):
            d = data[(start + row) % len(data)]
            # wake: recognise bottom-up
            s, o = [d], 0
            for k in range(L):
                q = 1.0 / (1.0 + np.exp(-(r[k + 1] + s[k] @ R[k])))
                s.append((u[o : o + layers[k + 1]] < q).astype(float))
                o += layers[k + 1]
            # wake learning (eq. 4)
            for l in range(L + 1):
                x = g[l] + s[l + 1] @ G[l] if l < L else g[l]
                err = rate * (s[l] - 1.0 / (1.0 + np.exp(-x)))
                g[l] += err
                if l < L:
                    if small[l]:
                        G[l] += np.outer(s[l + 1], err)
                        on = slice(None)
                    else:
                        on = np.flatnonzero(s[l + 1])
                        G[l][on] += err
                    if l in nonnegative:
                        G[l][on] = np.maximum(G[l][on], 0.0)
            # sleep: a fantasy top-down, then recognition learning (eq. 7)
            f = [None] * (L + 1)
            for l in range(L, -1, -1):
                x = g[l] + f[l + 1] @ G[l] if l < L else g[l]
                f[l] = (u[o : o + layers[l]] < 1.0 / (1.0 + np.exp(-x))).astype(float)
                o += layers[l]
            for k in range(L):
                err = rate * (f[k + 1] - 1.0 / (1.0 + np.exp(-(r[k + 1] + f[k] @ R[k]))))
                r[k + 1] += err
                if small[k]:
                    R[k] += np.outer(f[k], err)
                else:
                    R[k][np.flatnonzero(f[k])] += err
    return G, R, g, r


def cell(net: str, engine: str, n: int) -> dict:
    """One measurement, run inside the subprocess."""
    import numpy as np

    from hm_neuro.engines import make_engine
    from hm_neuro.model import Circuit, Parameters

    sparse = net.endswith("-sparse")
    circuit = Circuit.uniform(NETWORKS[net], rate=0.0 if sparse else 0.01, name=net)
    rng = np.random.default_rng(0)
    data = (rng.random((min(n, 100_000), circuit.n_input)) < (0.1 if sparse else 0.2)).astype(float)
    kind, _, device = engine.partition("-")
    device, _, propagation = device.partition("-")
    brian2 = kind == "brian2"

    def new_engine():
        if not brian2:  # the NumPy reference
            return make_engine(circuit, kind, chunk=len(data))
        return make_engine(
            circuit, "brian2", device=device or None, chunk=len(data), propagation=propagation or "summed"
        )

    if engine == "numpy-tuned":
        t0 = time.perf_counter()
        tuned_loop(circuit.layers, data, n, nonnegative=circuit.nonnegative_generative_weights_into)
        run = time.perf_counter() - t0
        return {
            "network": net,
            "engine": engine,
            "examples": n,
            "run_seconds": run,
            "examples_per_second": n / run,
            "setup_seconds": 0.0,
            "cached_setup_seconds": None,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    t0 = time.perf_counter()
    eng = new_engine()
    params = Parameters.initial(circuit)
    if sparse:
        for b in params.generative_biases + params.recognition_biases:
            b[:] = -2.2  # sigmoid(-2.2) ~ 0.1
    if brian2 and device != "cpp_standalone":
        params, _ = eng.run(params, data[:1], seed=0)  # runtime devices compile on their first run
    setup = time.perf_counter() - t0
    cached = None
    if device == "cpp_standalone":  # what a second command pays: the same shape from the build cache
        eng.close()
        t0 = time.perf_counter()
        eng = new_engine()
        cached = time.perf_counter() - t0
    done, c = 0, 0
    t0 = time.perf_counter()
    while done < n:
        m = min(len(data), n - done)
        params, _ = eng.run(params, data[:m], seed=c)
        done += m
        c += 1
    run = time.perf_counter() - t0
    eng.close()
    return {
        "network": net,
        "engine": engine,
        "examples": n,
        "run_seconds": run,
        "examples_per_second": n / run,
        "setup_seconds": setup,
        "cached_setup_seconds": cached,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def population_cell(net: str, engine: str, N: int, n: int) -> dict:
    """N machines trained together for n examples each (one process); for
    Brian2 also the set-up of a second engine of the same shape (the cached
    build: what a second command pays)."""
    import numpy as np

    from hm_neuro.engines import make_engine
    from hm_neuro.model import Circuit, Parameters

    circuit = Circuit.uniform(NETWORKS[net], rate=0.01, name=net)
    rng = np.random.default_rng(0)
    if engine == "numpy-reference":
        n = max(int(n * REFERENCE_FRACTION), 1000)
    chunk = min(n, 10_000 if engine == "vectorised" else 100_000)
    data = [(rng.random((chunk, circuit.n_input)) < 0.2).astype(float) for _ in range(N)]
    kind, _, device = engine.partition("-")  # numpy-reference, vectorised, brian2-DEVICE, spiking-DEVICE
    if kind in ("numpy", "vectorised"):
        device = ""
    device, _, propagation = device.partition("-")  # brian2-cpp_standalone-event
    extra = {"propagation": propagation} if propagation else {}
    steps_per_example = 1
    if kind == "spiking":
        from hm_neuro.model import Spiking

        extra["spiking"] = Spiking(window=SPIKING_WINDOW_MS, dt=SPIKING_DT_MS)
        steps_per_example = extra["spiking"].steps_per_example(circuit.n_hidden_layers)
    t0 = time.perf_counter()
    eng = make_engine(circuit, kind, device=device or None, chunk=chunk, n_machines=N, **extra)
    setup = time.perf_counter() - t0
    cached = None
    if kind in ("brian2", "spiking"):
        eng.close()
        t0 = time.perf_counter()
        eng = make_engine(circuit, kind, device=device or None, chunk=chunk, n_machines=N, **extra)
        cached = time.perf_counter() - t0
    params = [Parameters.initial(circuit) for _ in range(N)]
    done, c = 0, 0
    t0 = time.perf_counter()
    while done < n:
        m = min(chunk, n - done)
        params, _ = eng.run_population(params, [d[:m] for d in data], [c * N + k for k in range(N)])
        done += m
        c += 1
    run = time.perf_counter() - t0
    eng.close()
    return {
        "network": net,
        "engine": engine,
        "machines": N,
        "examples_per_machine": n,
        "run_seconds": run,
        "machine_examples_per_second": N * n / run,
        "steps_per_second": n * steps_per_example / run,
        "examples_per_second_per_machine": n / run,
        "clock_steps_per_example": steps_per_example,
        "setup_seconds": setup,
        "cached_setup_seconds": cached,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def memory_cell(n: int) -> dict:
    """Peak RSS of a full bars training of n examples (cpp_standalone, 100 weight snapshots)."""
    from hm_neuro.model import load_circuit
    from hm_neuro.training import BarsStream, train

    t0 = time.perf_counter()
    r = train(
        load_circuit("bars"),
        BarsStream(),
        n,
        seed=0,
        engine="brian2",
        device="cpp_standalone",
        record_every=n // 100,
        progress=False,
    )
    return {
        "examples": n,
        "seconds": time.perf_counter() - t0,
        "compile_seconds": r.compile_seconds,
        "snapshots": len(r.history_seen),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def protocol_cell(kind: str) -> dict:
    """The paper's bars protocol (2e6 examples, circuits/bars.toml): 'reference'
    times the per-example NumPy loop on 2e5 examples and scales; 'brian2'
    times a clean build (the caller gives an empty build cache) plus the
    whole training, then the same training again on the compiled build, in
    the same process."""
    from hm_neuro.engines import make_engine
    from hm_neuro.model import load_circuit
    from hm_neuro.training import BarsStream, train

    circuit = load_circuit("bars")
    if kind == "reference":
        n = REFERENCE_PROTOCOL_EXAMPLES
        t0 = time.perf_counter()
        train(circuit, BarsStream(), n, seed=0, engine="numpy", progress=False)
        s = time.perf_counter() - t0
        return {"kind": kind, "examples_timed": n, "seconds": s * PROTOCOL_EXAMPLES / n}
    t0 = time.perf_counter()
    eng = make_engine(circuit, "brian2", device="cpp_standalone", chunk=100_000)
    train(circuit, BarsStream(), PROTOCOL_EXAMPLES, seed=0, engine=eng, progress=False)
    clean = time.perf_counter() - t0
    t0 = time.perf_counter()
    train(circuit, BarsStream(), PROTOCOL_EXAMPLES, seed=1, engine=eng, progress=False)
    cached = time.perf_counter() - t0
    compile_s = eng.compile_seconds
    eng.close()
    return {
        "kind": kind,
        "examples_timed": PROTOCOL_EXAMPLES,
        "seconds": clean,
        "compile_seconds": compile_s,
        "cached_seconds": cached,
    }


#: the cells, by the name :func:`run_cell` gives them: (function, argument types)
CELLS = {
    "cell": (cell, (str, str, int)),
    "population": (population_cell, (str, str, int, int)),
    "memory": (memory_cell, (int,)),
    "protocol": (protocol_cell, (str,)),
}

if __name__ == "__main__":
    import logging

    logging.disable(logging.WARNING)
    kind, *args = sys.argv[1:]
    function, types = CELLS[kind]
    print(json.dumps(function(*(t(a) for t, a in zip(types, args)))))
