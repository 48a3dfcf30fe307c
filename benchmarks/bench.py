"""Training throughput, measured side by side in one run; no test asserts on these times.

The default run measures every row of the speed targets (issue 12) in one go,
each baseline beside its engine, each cell in a fresh subprocess, the cells
alternated for two rounds (the better round kept):

- end to end, as a user runs it: the main job (`hm-neuro reproduce bars`)
  with a cold build cache (a fresh cache folder) and again with the warm one
  (and whether the second run compiled anything: the cache's binaries are
  compared), then `hm-neuro train --examples 2e6` cold and warm;
- one machine: the NumPy reference, a tuned per-example NumPy loop
  (:func:`tuned_loop`) and the Brian2 circuit on cpp_standalone (summed and
  event-driven propagation) on 16-8-1 and 784-200-200;
- populations: the NumPy loop vectorised over the machines against the Brian2
  population (16 machines of 16-8-1, 10 of 64-16-16-4);
- peak memory of a bars training at 1e6 and 1e7 examples.

    python benchmarks/bench.py                # the targets -> benchmarks/targets.json (~30 min)
    python benchmarks/bench.py --quick        # the same, small (a check that it runs)
    python benchmarks/bench.py --devices      # every engine and Brian2 device on every network
                                              #   -> benchmarks/results.json, figures/benchmark.png
    python benchmarks/bench.py --networks 784-200-200 --update   # re-measure one network of --devices
    python benchmarks/bench.py --memory       # peak RSS at 1e6 vs 1e7 bars examples -> benchmarks/memory.json
    python benchmarks/bench.py --protocol     # the bars protocol end to end -> benchmarks/protocol.json
    python benchmarks/bench.py --populations  # N machines at once, every engine -> benchmarks/populations.json
    python benchmarks/bench.py --overhead     # issue 24: main job time, first progress and disk, train,
                                              #   evaluate, compiles (precompiled header, ccache) -> overhead.json

Cython compiles ~40 code objects on a cold cache (minutes): the first run of
the cython column includes that in its set-up time, not in its throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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

HERE = Path(__file__).resolve().parent


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


def populations(quick=False, rounds=2, out=HERE / "populations.json"):
    """Every population engine, each cell in its own process, alternating
    engine by engine for ``rounds`` rounds (the best round is kept), so that
    every ratio compares numbers measured minutes apart in this one run."""
    rows = []
    for net, N, ns in POPULATIONS:
        best = {}
        for rnd in range(rounds):
            for engine in POPULATION_ENGINES:
                n = ns[1 if quick else 0]
                r = subprocess.run(
                    [sys.executable, __file__, "--population-cell", net, engine, str(N), str(n)],
                    capture_output=True,
                    text=True,
                )
                row = (
                    json.loads(r.stdout.strip().splitlines()[-1])
                    if r.returncode == 0
                    else {"network": net, "engine": engine, "machines": N, "error": r.stderr.strip()[-300:]}
                )
                print(
                    f"{net} x{N} {engine:24s} round {rnd + 1}: "
                    f"{row.get('machine_examples_per_second', float('nan')):>12,.0f} machine-ex/s",
                    file=sys.stderr,
                )
                old = best.get(engine)
                if (
                    old is None
                    or "error" in old
                    or row.get("machine_examples_per_second", 0) > old.get("machine_examples_per_second", 0)
                ):
                    best[engine] = row
        ref, vec = best["numpy-reference"], best["vectorised"]
        for row in best.values():
            if "error" not in row:
                if "error" not in ref:
                    row["ratio_to_reference"] = row["machine_examples_per_second"] / ref["machine_examples_per_second"]
                if "error" not in vec:
                    row["ratio_to_vectorised"] = row["machine_examples_per_second"] / vec["machine_examples_per_second"]
            rows.append(row)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from hm_neuro.files.model_io import save_json

    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "cpus": os.cpu_count(),
        "quick": quick,
        "reference_fraction": REFERENCE_FRACTION,
        "rows": rows,
    }
    save_json(out, result)
    for row in rows:
        print(
            f"{row['network']:11s} x{row['machines']:<3d} {row['engine']:24s} "
            + (
                f"{row['machine_examples_per_second']:>11,.0f} machine-ex/s  "
                f"{row['examples_per_second_per_machine']:>9,.0f} /machine"
                f"  x{row.get('ratio_to_reference', float('nan')):.1f} ref"
                f"  x{row.get('ratio_to_vectorised', float('nan')):.1f} vec"
                f"  setup {row['setup_seconds']:.1f} s  cached {row['cached_setup_seconds'] or 0:.1f} s"
                f"  {row['peak_rss_mb']:.0f} MB"
                if "error" not in row
                else "failed: " + row["error"]
            )
        )
    return result


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


def protocol(out=HERE / "protocol.json"):
    """End to end: the bars protocol on the compiled circuit vs the NumPy loop."""
    import shutil
    import tempfile

    rows = {}
    cache = tempfile.mkdtemp(prefix="hm_neuro_bench_cache_")  # a clean build: an empty build cache
    env = dict(os.environ, HM_NEURO_CACHE_DIR=cache)
    for kind in ("reference", "brian2"):
        r = subprocess.run([sys.executable, __file__, "--protocol-cell", kind], capture_output=True, text=True, env=env)
        rows[kind] = (
            json.loads(r.stdout.strip().splitlines()[-1])
            if r.returncode == 0
            else {"kind": kind, "error": r.stderr.strip().splitlines()[-1]}
        )
        print(rows[kind], file=sys.stderr)
    shutil.rmtree(cache, ignore_errors=True)
    if "error" not in rows["reference"] and "error" not in rows["brian2"]:
        rows["speedup_clean_build"] = rows["reference"]["seconds"] / rows["brian2"]["seconds"]
        rows["speedup_cached_build"] = rows["reference"]["seconds"] / rows["brian2"]["cached_seconds"]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from hm_neuro.files.model_io import save_json

    save_json(out, {"date": time.strftime("%Y-%m-%d"), "examples": PROTOCOL_EXAMPLES, "cpus": os.cpu_count(), **rows})
    return rows


def memory(out=HERE / "memory.json"):
    """Peak memory of bars trainings of 1e6 and 1e7 examples, each in its own process."""
    rows = []
    for n in (1_000_000, 10_000_000):
        r = subprocess.run([sys.executable, __file__, "--memory-cell", str(n)], capture_output=True, text=True)
        rows.append(
            json.loads(r.stdout.strip().splitlines()[-1])
            if r.returncode == 0
            else {"examples": n, "error": r.stderr.strip().splitlines()[-1]}
        )
        print(rows[-1], file=sys.stderr)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from hm_neuro.files.model_io import save_json

    save_json(out, {"date": time.strftime("%Y-%m-%d"), "rows": rows})


# ------------------------------------------------------------ the targets of issue 12


def _cli(args, env, log) -> dict:
    """``hm-neuro ARGS`` as a user runs it, timed end to end (its output to ``log``)."""
    t0 = time.perf_counter()
    with open(log, "w") as f:
        r = subprocess.run(
            [sys.executable, "-m", "hm_neuro.cli", "-v", *args], env=env, stdout=f, stderr=subprocess.STDOUT
        )
    seconds = time.perf_counter() - t0
    print(f"hm-neuro {' '.join(args)}: {seconds:.1f} s (exit {r.returncode})", file=sys.stderr)
    if r.returncode != 0:
        raise SystemExit(f"bench.py: `hm-neuro {' '.join(args)}` failed (exit {r.returncode}); its output: {log}")
    return {"command": "hm-neuro " + " ".join(args), "seconds": seconds, "exit_status": r.returncode}


def _binaries(cache: Path) -> dict:
    """{build: mtime of its compiled binary} of a build cache."""
    return {str(b.parent.name): b.stat().st_mtime_ns for b in (cache / "builds").glob("*/main")}


def _alternated(cells, env, rounds) -> dict:
    """Each cell (argv of this script) in its own process, the cells taken in
    turn for ``rounds`` rounds; the best round of each is kept, and the first
    round's set-up (cold build cache) is kept as its compile time."""
    best = {}
    for rnd in range(rounds):
        for key, argv in cells:
            r = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True, env=env)
            row = (
                json.loads(r.stdout.strip().splitlines()[-1])
                if r.returncode == 0
                else {"error": (r.stderr.strip().splitlines() or ["?"])[-1]}
            )
            rate = row.get("machine_examples_per_second", row.get("examples_per_second", 0))
            print(f"  {key:42s} round {rnd + 1}: {rate:>12,.0f} /s", file=sys.stderr)
            if rnd == 0:
                row["cold_setup_seconds"] = row.get("setup_seconds")
            old = best.get(key)
            if old is None or "error" in old or rate > old.get("rate", 0):
                row["rate"] = rate
                row["cold_setup_seconds"] = (old or row).get("cold_setup_seconds")
                best[key] = row
    return best


def _machine_speed() -> float:
    """Seconds of ``sum(range(10**8))`` in a fresh Python: how fast this
    machine was during the run (the same cell differs twofold from hour to
    hour on shared machines)."""
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "import time; t = time.perf_counter(); sum(range(10**8)); print(time.perf_counter() - t)",
        ],
        capture_output=True,
        text=True,
    )
    return float(r.stdout)


def _cli_io(args, env, log) -> dict:
    """:func:`_cli` with the bytes its process tree wrote to disk (the children's
    ``ru_oublock``, 512-byte blocks, as ``/usr/bin/time`` counts them)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_oublock
    row = _cli(args, env, log)
    row["disk_written_bytes"] = (resource.getrusage(resource.RUSAGE_CHILDREN).ru_oublock - before) * 512
    return row


def _cli_first_progress(args, env, log) -> dict:
    """:func:`_cli_io`, and the seconds until its progress bar first moved
    (tqdm's count above 0: the first chunk of some population done)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_oublock
    t0 = time.perf_counter()
    first = None
    with open(log, "w") as f:
        p = subprocess.Popen(
            [sys.executable, "-m", "hm_neuro.cli", *args], env=env, stdout=f, stderr=subprocess.PIPE, text=True
        )
        buf = ""
        while chunk := p.stderr.read(64):
            f.write(chunk)
            buf = (buf + chunk)[-400:]
            if first is None and re.search(r"\|\s*(?:[1-9][\d.]*|0\.\d*[1-9]\d*)[kMG]?/[\d.]+[kMG]?", buf):
                first = time.perf_counter() - t0
        p.wait()
    seconds = time.perf_counter() - t0
    print(
        f"hm-neuro {' '.join(args)}: {seconds:.1f} s, first progress at {first} s (exit {p.returncode})",
        file=sys.stderr,
    )
    if p.returncode != 0:
        raise SystemExit(f"bench.py: `hm-neuro {' '.join(args)}` failed (exit {p.returncode}); its output: {log}")
    written = (resource.getrusage(resource.RUSAGE_CHILDREN).ru_oublock - before) * 512
    return {
        "command": "hm-neuro " + " ".join(args),
        "seconds": seconds,
        "first_progress_seconds": first,
        "exit_status": p.returncode,
        "disk_written_bytes": written,
    }


#: compile settings compared on one shape, each on an empty build cache:
#: (row, environment, whether the ccache folder is emptied first)
COMPILE_SETTINGS = [
    ("no_precompiled_header", {"HM_NEURO_PCH": "0", "HM_NEURO_CCACHE": "0"}, True),
    ("precompiled_header", {"HM_NEURO_CCACHE": "0"}, True),
    ("precompiled_header_and_empty_ccache", {}, True),
    ("precompiled_header_and_ccache_after_an_upgrade", {}, False),
]


def compile_rows(work: Path, quick=False) -> dict:
    """One shape (the main job's: 15 machines of 16-8-1, as its populations
    are on 2 workers) compiled with each of :data:`COMPILE_SETTINGS`, side by
    side: Brian2's default flags, the precompiled standard headers, and
    ccache (empty; then full, as after an upgrade that changed every build
    key: a new Brian2, NumPy or Python)."""
    rows = {}
    ccache = work / "ccache"
    script = (
        "import time; t0 = time.perf_counter()\n"
        "from hm_neuro.engines import make_engine\n"
        "from hm_neuro.model.circuit import load_circuit\n"
        "e = make_engine(load_circuit('bars'), 'brian2', device='cpp_standalone', n_machines=15, chunk=100000)\n"
        "print(e.compile_seconds, time.perf_counter() - t0, e.cached_build)\n"
    )
    for row, extra, empty in COMPILE_SETTINGS:
        if empty:
            shutil.rmtree(ccache, ignore_errors=True)
        # one build cache folder, emptied each time (an upgrade empties it by changing every key)
        shutil.rmtree(work / "compile", ignore_errors=True)
        env = dict(os.environ, HM_NEURO_CACHE_DIR=str(work / "compile"), CCACHE_DIR=str(ccache), **extra)
        env.pop("CXX", None)
        r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
        if r.returncode != 0:
            raise SystemExit(f"bench.py: compile row {row} failed: {r.stderr.strip()[-300:]}")
        compile_s, engine_s, cached = r.stdout.split()
        rows[row] = {"compile_seconds": float(compile_s), "engine_seconds": float(engine_s), "env": extra}
        print(f"  compile {row:48s} {float(compile_s):6.1f} s (engine ready {float(engine_s):.1f} s)", file=sys.stderr)
    rows["ccache_installed"] = shutil.which("ccache") is not None
    return rows


#: issue 24's targets: (row, measure, target, how it is met)
OVERHEAD_TARGETS = [
    ("main_job_warm", "disk_written_bytes", 0.3e9, "disk written by a warm main job"),
    ("main_job_warm", "seconds", 45.0, "main job, warm cache"),
    ("main_job_cold", "seconds", 60.0, "main job, empty cache"),
    ("main_job_warm", "first_progress_seconds", 15.0, "first result (progress) of the main job, warm"),
    ("train_warm", "seconds", 7.0, "`hm-neuro train --examples 2e6`, warm"),
    ("evaluate", "seconds", 1.0, "`hm-neuro evaluate --model M`"),
]


def overhead(quick=False, out=HERE / "overhead.json"):
    """Issue 24's rows, measured in one run on an empty build cache: the main
    job cold and warm (time and disk written), a warm 2e6-example training,
    and ``evaluate`` (which must not import Brian2)."""
    with tempfile.TemporaryDirectory(prefix="hm_neuro_overhead_") as tmp:
        work = Path(tmp)
        # an empty build cache and an empty ccache: "cold" is cold
        env = dict(os.environ, HM_NEURO_CACHE_DIR=str(work / "cache"), CCACHE_DIR=str(work / "ccache_main"))
        logs = HERE / "logs"
        logs.mkdir(exist_ok=True)
        res = {"date": time.strftime("%Y-%m-%d %H:%M"), "quick": quick, "cpus": os.cpu_count()}
        res["python_loop_seconds"] = _machine_speed()
        main_job = ["reproduce", "bars"] + (["--quick"] if quick else [])
        res["main_job_cold"] = _cli_first_progress(
            main_job + ["--out", str(work / "cold")], env, logs / "overhead_cold.log"
        )
        res["main_job_warm"] = _cli_first_progress(
            main_job + ["--out", str(work / "warm")], env, logs / "overhead_warm.log"
        )
        train = ["train", "--examples", "2e5" if quick else "2e6", "-q"]
        _cli_io(train + ["--out", str(work / "t1.npz")], env, logs / "overhead_train_cold.log")
        res["train_warm"] = _cli_io(train + ["--out", str(work / "t2.npz")], env, logs / "overhead_train_warm.log")
        res["evaluate"] = _cli_io(["evaluate", "--model", str(work / "t2.npz")], env, logs / "overhead_evaluate.log")
        probe = subprocess.run(
            [sys.executable, "-c", "import sys, hm_neuro.cli; print('brian2' in sys.modules)"],
            capture_output=True,
            text=True,
            env=env,
        )
        res["cli_imports_brian2"] = probe.stdout.strip() == "True"
        res["compile"] = compile_rows(work, quick)
    res["targets"] = [
        {"what": what, "measured": res[row][key], "target": target, "met": (res[row][key] or 1e300) <= target}
        for row, key, target, what in OVERHEAD_TARGETS
    ]
    out.write_text(json.dumps(res, indent=1) + "\n")
    for r in res["targets"]:
        unit = "GB" if "disk" in r["what"] else "s"
        scale = 1e9 if unit == "GB" else 1
        measured = "never" if r["measured"] is None else f"{r['measured'] / scale:.2f} {unit}"
        print(f"| {r['what']} | <= {r['target'] / scale:g} {unit} | {measured} | {'met' if r['met'] else 'not met'} |")
    return res


def targets(quick=False, rounds=2, out=HERE / "targets.json"):
    """Every row of issue 12's targets table, measured in this one run, every
    baseline beside its engine: the main job and ``hm-neuro train`` end to
    end with a cold and then a warm build cache (a fresh cache folder for
    this run), single-machine and population throughput with the NumPy
    reference, the tuned per-example NumPy loop (:func:`tuned_loop`) and the
    NumPy loop vectorised over the population, and peak memory at two
    training lengths."""
    import shutil
    import tempfile

    cache = Path(tempfile.mkdtemp(prefix="hm_neuro_bench_cache_"))
    work = Path(tempfile.mkdtemp(prefix="hm_neuro_bench_"))
    env = dict(os.environ, HM_NEURO_CACHE_DIR=str(cache), OMP_NUM_THREADS="1")
    logs = Path(out).parent / "logs"
    logs.mkdir(exist_ok=True)
    res = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "quick": quick,
        "cpus": os.cpu_count(),
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    try:
        # end to end, as a user: the main job twice, then a single training twice
        main_job = ["reproduce", "bars"] + (["--quick"] if quick else [])
        res["main_job_cold"] = _cli(main_job + ["--out", str(work / "cold")], env, logs / "main_job_cold.log")
        before = _binaries(cache)
        res["main_job_warm"] = _cli(main_job + ["--out", str(work / "warm")], env, logs / "main_job_warm.log")
        after = _binaries(cache)
        res["main_job_warm"]["builds_compiled"] = sum(after.get(k) != v for k, v in before.items()) + len(
            set(after) - set(before)
        )
        written = sorted((work / "warm").glob("bars*.json"))  # bars.json, or bars_quick.json
        rows = json.loads(written[0].read_text())["runs"] if written else []
        res["main_job_warm"]["runs_on_cached_build"] = sum(bool(r.get("cached_build")) for r in rows)
        res["main_job_warm"]["runs"] = len(rows)
        train = ["train", "--circuit", "bars", "--data", "bars", "--examples", "2e5" if quick else "2e6"]
        res["train_cold"] = _cli(train + ["--out", str(work / "t1.npz")], env, logs / "train_cold.log")
        res["train_warm"] = _cli(train + ["--out", str(work / "t2.npz")], env, logs / "train_warm.log")
        # throughput, every baseline alternated with its engine
        q = 1 if quick else 0
        cells = []
        for net in ("16-8-1", "784-200-200"):
            for engine in ("numpy-reference", "numpy-tuned", "brian2-cpp_standalone", "brian2-cpp_standalone-event"):
                if net == "16-8-1" and engine.endswith("event"):
                    continue
                cells.append(((net, 1, engine), ["--cell", net, engine, str(EXAMPLES[(net, engine)][q])]))
        for net, N, ns in POPULATIONS:
            for engine in ("vectorised", "brian2-cpp_standalone"):
                cells.append(((net, N, engine), ["--population-cell", net, engine, str(N), str(ns[q])]))
        best = _alternated([(" ".join(map(str, k)), a) for k, a in cells], env, rounds)
        res["throughput"] = [
            dict(best[" ".join(map(str, k))], network=k[0], machines=k[1], engine=k[2]) for k, _ in cells
        ]
        # memory: one bars training at two lengths (100 snapshots each), flat if chunked
        res["memory"] = []
        for n in (100_000, 1_000_000) if quick else (1_000_000, 10_000_000):
            r = subprocess.run(
                [sys.executable, __file__, "--memory-cell", str(n)], capture_output=True, text=True, env=env
            )
            res["memory"].append(
                json.loads(r.stdout.strip().splitlines()[-1])
                if r.returncode == 0
                else {"examples": n, "error": r.stderr.strip().splitlines()[-1]}
            )
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    res["table"] = targets_table(res)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from hm_neuro.files.model_io import save_json

    save_json(out, res)
    print("\n".join(res["table"]))
    return res


def targets_table(res) -> list:
    """The issue's table (markdown lines): what, target, measured, met."""

    def rate(net, N, engine):
        r = next((x for x in res["throughput"] if (x["network"], x["machines"], x["engine"]) == (net, N, engine)), {})
        return r.get("rate", float("nan")) if "error" not in r else float("nan")

    def yes(ok):
        return "**met**" if ok else "not met"

    lines = ["| what | target | measured | |", "|---|---|---|---|"]
    cold, warm = res["main_job_cold"], res["main_job_warm"]
    lines.append(
        f"| main job `hm-neuro reproduce bars`, cold cache | <= 30 s | {cold['seconds']:.0f} s | "
        f"{yes(cold['seconds'] <= 30)} |"
    )
    lines.append(
        f"| the same, second run (warm cache) | <= 10 s, compiles nothing | {warm['seconds']:.0f} s; "
        f"{warm['builds_compiled']} build(s) compiled, {warm['runs_on_cached_build']}/{warm['runs']} runs "
        f"on a cached build | {yes(warm['seconds'] <= 10)} (time); "
        f"{yes(warm['builds_compiled'] == 0)} (compiles nothing) |"
    )
    tw = res["train_warm"]
    lines.append(
        f"| `hm-neuro train --examples 2e6` on bars, warm cache | <= 4 s | {tw['seconds']:.1f} s "
        f"(cold: {res['train_cold']['seconds']:.1f} s) | {yes(tw['seconds'] <= 4)} |"
    )
    one, ref, loop = (rate("16-8-1", 1, e) for e in ("brian2-cpp_standalone", "numpy-reference", "numpy-tuned"))
    lines.append(
        f"| 16-8-1, one machine, cpp_standalone | >= 650k ex/s | {one:,.0f} ex/s ({one / ref:.1f}x the "
        f"reference's {ref:,.0f}, {one / loop:.1f}x the tuned loop's {loop:,.0f}) | {yes(one >= 650e3)} |"
    )
    for net, N, _ in POPULATIONS:
        pop, vec = rate(net, N, "brian2-cpp_standalone"), rate(net, N, "vectorised")
        if net == "16-8-1":
            target, ok = ">= 1.5 M machine-ex/s and >= 5x the vectorised loop", pop >= 1.5e6 and pop >= 5 * vec
        else:
            target, ok = ">= 300k machine-ex/s", pop >= 300e3
        lines.append(
            f"| {net}, population of {N}, aggregate | {target} | {pop:,.0f} machine-ex/s "
            f"({pop / vec:.1f}x the vectorised loop's {vec:,.0f}) | {yes(ok)} |"
        )
    s, e = rate("784-200-200", 1, "brian2-cpp_standalone"), rate("784-200-200", 1, "brian2-cpp_standalone-event")
    ref, loop = rate("784-200-200", 1, "numpy-reference"), rate("784-200-200", 1, "numpy-tuned")
    top = max(s, e)
    lines.append(
        f"| 784-200-200, one machine, untrained | >= 3,000 ex/s and >= 2x the tuned loop | summed "
        f"{s:,.0f}, event-driven {e:,.0f} ex/s (reference {ref:,.0f}, tuned loop {loop:,.0f}: "
        f"{top / loop:.1f}x) | {yes(top >= 3000 and top >= 2 * loop)} |"
    )
    mem = res["memory"]
    if all("error" not in m for m in mem):
        a, b = mem[0]["peak_rss_mb"], mem[1]["peak_rss_mb"]
        lines.append(
            f"| memory | flat | {a:.0f} MB at {mem[0]['examples']:.0e}, {b:.0f} MB at "
            f"{mem[1]['examples']:.0e} examples | {yes(b <= 1.1 * a)} |"
        )
    return lines


def main(
    quick=False, out=HERE / "results.json", figure="figures/benchmark.png", networks=None, engines=None, update=False
):
    """``update``: re-measure only ``networks`` (every engine of a network in
    this one run) and keep the other networks' rows of ``out``."""
    rows = []
    for net in networks or NETWORKS:
        for engine in engines or ENGINES:
            if (net, engine) in NOT_MEASURED:
                continue
            n = EXAMPLES[(net, engine)][1 if quick else 0]
            print(f"{net:12s} {engine:24s} {n:>9,d} examples ...", end=" ", flush=True, file=sys.stderr)
            r = subprocess.run(
                [sys.executable, __file__, "--cell", net, engine, str(n)], capture_output=True, text=True
            )
            if r.returncode != 0:
                rows.append({"network": net, "engine": engine, "error": r.stderr.strip().splitlines()[-1]})
                print("failed:", rows[-1]["error"], file=sys.stderr)
                continue
            rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
            print(f"{rows[-1]['examples_per_second']:>12,.0f} ex/s", file=sys.stderr)
    for row in rows:
        ref = next(
            (
                r
                for r in rows
                if r["network"] == row["network"] and r["engine"] == "numpy-reference" and "error" not in r
            ),
            None,
        )
        if ref and "error" not in row:
            row["ratio_to_reference"] = row["examples_per_second"] / ref["examples_per_second"]
    for row in rows:
        row["measured"] = time.strftime("%Y-%m-%d %H:%M")
    if update and Path(out).exists():
        kept = [
            r for r in json.loads(Path(out).read_text())["rows"] if r["network"] not in {x["network"] for x in rows}
        ]
        order = list(NETWORKS)
        rows = sorted(kept + rows, key=lambda r: (order.index(r["network"]), ENGINES.index(r["engine"])))
    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "quick": quick,
        "date": time.strftime("%Y-%m-%d"),
        "rows": rows,
    }
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from hm_neuro.files.model_io import save_json

    save_json(out, result)
    plot(result, figure)
    print(table(result))
    return result


def table(result) -> str:
    lines = [
        "| network | engine | examples/s | ratio to NumPy reference | set-up / compile s | peak RSS MB |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        if "error" in r:
            lines.append(f"| {r['network']} | {r['engine']} | failed: {r['error']} | | | |")
        else:
            lines.append(
                f"| {r['network']} | {r['engine']} | {r['examples_per_second']:,.0f} | "
                f"{r.get('ratio_to_reference', float('nan')):.2f}x | {r['setup_seconds']:.1f} | "
                f"{r['peak_rss_mb']:.0f} |"
            )
    return "\n".join(lines)


def plot(result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    nets = list(dict.fromkeys(r["network"] for r in result["rows"]))
    engines = list(dict.fromkeys(r["engine"] for r in result["rows"]))
    fig, ax = plt.subplots(figsize=(7, 3.6))
    width = 0.8 / len(engines)
    for k, e in enumerate(engines):
        vals = [
            next(
                (
                    r.get("examples_per_second", np.nan)
                    for r in result["rows"]
                    if r["network"] == n and r["engine"] == e
                ),
                np.nan,
            )
            for n in nets
        ]
        ax.bar(np.arange(len(nets)) + k * width, vals, width, label=e)
    ax.set_xticks(np.arange(len(nets)) + width * (len(engines) - 1) / 2, nets)
    ax.set_yscale("log")
    ax.set_ylabel("training examples / s")
    ax.set_title(f"wake-sleep training throughput ({result['machine']['cpus']} cores, {result['date']})", fontsize=9)
    ax.legend(fontsize=7)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--networks", nargs="*", choices=list(NETWORKS))
    p.add_argument("--engines", nargs="*", choices=ENGINES)
    p.add_argument(
        "--update", action="store_true", help="re-measure only --networks and keep the other rows of results.json"
    )
    p.add_argument("--memory", action="store_true", help="peak memory of 1e6 vs 1e7 bars examples instead")
    p.add_argument("--cell", nargs=3, metavar=("NETWORK", "ENGINE", "N"), help=argparse.SUPPRESS)
    p.add_argument("--memory-cell", type=int, help=argparse.SUPPRESS)
    p.add_argument(
        "--protocol",
        action="store_true",
        help="the bars protocol end to end (clean build, cached build) vs the NumPy loop -> benchmarks/protocol.json",
    )
    p.add_argument("--protocol-cell", choices=["reference", "brian2"], help=argparse.SUPPRESS)
    p.add_argument(
        "--devices",
        action="store_true",
        help="every Brian2 device on every network -> benchmarks/results.json, figures/benchmark.png",
    )
    p.add_argument(
        "--populations",
        action="store_true",
        help="populations of machines: reference, vectorised NumPy, Brian2 -> benchmarks/populations.json",
    )
    p.add_argument("--population-cell", nargs=4, metavar=("NETWORK", "ENGINE", "N", "EXAMPLES"), help=argparse.SUPPRESS)
    p.add_argument(
        "--overhead",
        action="store_true",
        help="issue 24's rows: main job cold/warm (time, disk written), train warm, evaluate "
        "-> benchmarks/overhead.json",
    )
    a = p.parse_args()
    if a.overhead:
        overhead(quick=a.quick)
    elif a.population_cell:
        import logging

        logging.disable(logging.WARNING)
        net, engine, N, n = a.population_cell
        print(json.dumps(population_cell(net, engine, int(N), int(n))))
    elif a.populations:
        populations(quick=a.quick)
    elif a.protocol_cell:
        import logging

        logging.disable(logging.WARNING)
        print(json.dumps(protocol_cell(a.protocol_cell)))
    elif a.protocol:
        print(json.dumps(protocol(), indent=1))
    elif a.memory_cell:
        import logging

        logging.disable(logging.WARNING)
        print(json.dumps(memory_cell(a.memory_cell)))
    elif a.memory:
        memory()
    elif a.cell:
        import logging

        logging.disable(logging.WARNING)
        print(json.dumps(cell(a.cell[0], a.cell[1], int(a.cell[2]))))
    elif a.devices or a.networks or a.engines:
        main(quick=a.quick, networks=a.networks, engines=a.engines, update=a.update)
    else:
        targets(quick=a.quick)
