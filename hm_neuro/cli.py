"""The ``hm-neuro`` command line.

Bad input prints one line naming the problem on stderr and exits with status
2; no traceback, and no output file is left behind (files are written
atomically, at the end).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import math
import os
import signal
import sys
import threading
from pathlib import Path

import numpy as np

from . import interrupts, measures
from .engines import DEVICES, ENGINES, MAX_CHUNK, PROPAGATIONS, RNGS, EngineOptions, capabilities
from .errors import HMError, bad
from .files.data import bars_distribution, resolve_data
from .files.model_io import Continuation, load_history, load_model, save_history, save_model, transaction
from .files.outputs import check_folder, check_name, check_outputs, input_paths
from .log import progress
from .model import ESCAPES, Precision, Rule, load_circuit
from .runs.runner import default_workers
from .seeds import check_seed, tree
from .training import (
    Checkpointing,
    Interrupted,
    array_digest,
    checkpoint_progress,
    parse_schedule,
    stream_for,
    train,
    train_population,
)

EPILOG_TRAIN = """examples:
  hm-neuro train --circuit bars --data bars --examples 2e6 --out bars.npz
  hm-neuro train --circuit digits --data digits:9 --examples 1e5 --engine numpy --out nine.npz
  hm-neuro train --circuit bars --data bars --examples 2e5 --record-every 10000 --out b.npz
  hm-neuro train --circuit bars --data bars --examples 3000 \\
                 --schedule wake-sleep:2000,wake:500,frozen:500 --out b.npz
"""

#: --rng's help (train, reproduce)
RNG_HELP = (
    "uniform numbers of sampling: philox (counter-based, default: a machine's result depends on its seed "
    "alone, on every engine, device and population) or mt19937 (the generators of releases up to 0.2, to "
    "reproduce their results)"
)


EPILOG_SWEEP = """examples:
  hm-neuro sweep --seeds 10                                  # bars, 10 seeds, local cluster
  hm-neuro sweep bars_p_vertical --workers 2                 # a shipped grid, by name
  hm-neuro sweep --examples 2e5 --seeds 5 --grid p_vertical=0.5,0.6667
  hm-neuro sweep --circuit digits --data digits:0 --grid data=digits:0,digits:1 --examples 4e4
  dask scheduler --scheduler-file s.json &  dask worker --scheduler-file s.json --nworkers 2 --nthreads 1 &
  hm-neuro sweep --seeds 10 --scheduler s.json
"""


def _count(text: str) -> int:
    """Accept 2e6 as well as 2000000 for example counts."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(v) or v != int(v) or not 0 <= v <= 1e12:
        raise argparse.ArgumentTypeError(f"must be a whole number in 0..1e12: {text!r}")
    return int(v)


#: the spiking engine's options: flag -> (type or choices, help); read by spiking_options
SPIKING_OPTIONS = {
    "--window": (float, "sampling window T of a layer, ms; default 1"),
    "--dt": (float, "clock step, ms (T a whole number of steps); default 0.1"),
    "--escape": (
        ESCAPES,
        "exact: P(spike in a step) = 1 - exp(-rho dt), a window fires with probability sigma(u); "
        "rate: Brian2's rand() < rho*dt; default exact",
    ),
    "--tau-syn": (float, "synaptic time constant, ms (0: instantaneous); default 0"),
    "--settle": (
        float,
        "a hold before every window and learning step in which the synaptic currents settle, ms "
        "(a whole number of steps); default 0",
    ),
    "--delay": (
        float,
        "axonal delay of a unit's state to its targets' synapses, ms (a whole number of steps); default 0",
    ),
}


def add_spiking_options(parser):
    """The options of :data:`SPIKING_OPTIONS`, in a group of their own."""
    sp = parser.add_argument_group("spiking engine (--engine spiking; the bridge limit: --escape exact --tau-syn 0)")
    for flag, (kind, text) in SPIKING_OPTIONS.items():
        sp.add_argument(flag, help=text, **({"type": kind} if callable(kind) else {"choices": kind}))


def spiking_options(args, circuit):
    """The spiking engine's parameters: the circuit's [dynamics] table, with
    --window, --dt, --escape, --tau-syn, --settle, --delay on top (None for
    the other engines, which refuse the options)."""
    given = {
        k: getattr(args, k)
        for k in ("window", "dt", "escape", "tau_syn", "settle", "delay")
        if getattr(args, k) is not None
    }
    if not capabilities(args.engine).spiking:
        if given:
            key = next(iter(given))
            raise bad(f"--{key.replace('_', '-')}", "applies to --engine spiking only", given[key])
        return None
    return circuit.spiking(**given)


def _train_seeds(args, out: Path):
    """The seeds of ``train`` (one, or a population by --seeds) and their model files."""
    if args.seeds is not None:
        from .runs.sweep import parse_seeds

        seeds = parse_seeds(args.seeds)
        if args.seed is not None:
            raise bad(
                "--seed", f"trains one machine; --seeds {args.seeds} trains a population (give one of them)", args.seed
            )
        if args.checkpoint_every or args.resume:
            raise bad("--seeds", "trains a population; checkpoints are for one machine (use --seed)", args.seeds)
        outs = [out.with_name(f"{out.stem}_seed{s}.npz") for s in seeds]
    else:
        seeds = (check_seed(0 if args.seed is None else args.seed),)
        outs = [out]
    return seeds, outs


def _check_checkpoint(args, ckpt: Path, use_ckpt: bool, out: Path):
    """A resume needs its checkpoint; a new run never replaces one's progress."""
    if args.resume and not ckpt.exists():
        raise bad("--resume", "no checkpoint to resume from", str(ckpt))
    if use_ckpt and not args.resume and ckpt.exists():
        held = checkpoint_progress(ckpt)
        raise bad(
            "--out",
            f"{ckpt} already holds a checkpoint ({held if held is not None else 'unknown'} examples "
            "of progress); continue it with --resume, or delete it to start over",
            str(out),
        )
    if args.checkpoint_every and args.checkpoint_every < min(args.chunk, args.examples) and args.checkpoint_every:
        print(
            f"hm-neuro train: note: checkpoints are written at chunk boundaries, every "
            f"{min(args.chunk, args.examples)} examples (--chunk)",
            file=sys.stderr,
        )


def _save_trained(args, results, circuit, spiking, stream, outs, hists):
    """Each trained machine's model file (with what trained it) and weight history."""
    # a spiking model file records the dynamics it was trained with, as its circuit's [dynamics] table
    saved = circuit if spiking is None else circuit.replace(dynamics=spiking.key())
    for i, (result, o) in enumerate(zip(results, outs)):
        training = {
            "data": stream.description,
            "data_parameters": getattr(stream, "parameters", None),
            "schedule": args.schedule,
            "chunk": args.chunk,
            "propagation": args.propagation,
            "init": args.init,
            "rng": args.rng,
        }
        save_model(
            o,
            result.params,
            saved,
            result.seed,
            result.examples_seen,
            result.engine,
            result.device,
            rule=args.rule,
            training=training,
        )
        if args.record_every:
            save_history(hists[i], result.history_seen, result.history, circuit, result.seed)


def _initial_model(path, circuit):
    """The model of ``--init`` to continue (its parameters on the circuit's
    grids, its examples seen); a model trained with another precision is
    said so in one line (it continues with this one)."""
    params, _, meta = load_model(path, circuit)
    made_with = load_model(path)[1]
    if made_with.precision != circuit.precision:
        print(
            f"note: {path} was trained with precision {made_with.precision.label}; training continues with "
            f"{circuit.precision.label}" + ("" if circuit.precision.exact else " (its parameters put on the grid)"),
            file=sys.stderr,
        )
    return Continuation(params.on_grid(circuit), int(meta["examples_seen"]))


def cmd_train(args):
    circuit = load_circuit(args.circuit)
    if args.precision is not None:
        circuit = circuit.replace(precision=Precision.parse(args.precision, "--precision"))
    stream = stream_for(args.data, circuit, args.p_vertical)
    params = _initial_model(args.init, circuit) if args.init else None
    schedule = parse_schedule(args.schedule) if args.schedule else None
    if args.examples < 1:
        raise bad("--examples", "must be >= 1", args.examples)

    args.rule = Rule.parse(args.rule).label
    spiking = spiking_options(args, circuit)
    if args.chunk < 1:
        raise bad("--chunk", "must be >= 1", args.chunk)
    out = Path(args.out)
    if out.suffix != ".npz":
        raise bad("--out", "model files end in .npz", str(out))
    seeds, outs = _train_seeds(args, out)
    hists = [o.with_name(o.stem + ".history.npz") for o in outs] if args.record_every else []
    ckpt = out.with_name(out.stem + ".checkpoint.npz")
    use_ckpt = bool(args.checkpoint_every or args.resume)
    check_outputs(
        outs + hists + ([ckpt] if use_ckpt else []),
        input_paths(args.data, args.init, args.circuit),
        existing_ok=[ckpt] if args.resume else [],
    )
    _check_checkpoint(args, ckpt, use_ckpt, out)
    fingerprint = {
        "init": array_digest(params.params.arrays()) if params is not None else None,
        "data_rows": array_digest({"rows": stream.rows}) if hasattr(stream, "rows") else None,
    }
    options = EngineOptions(
        engine=args.engine,
        device=args.device,
        chunk=args.chunk,
        propagation=args.propagation,
        rule=args.rule,
        spiking=spiking,
        record_every=args.record_every,
        rng=args.rng,
    )
    if len(seeds) == 1:
        checkpoint = Checkpointing(ckpt, args.checkpoint_every, args.resume, fingerprint) if use_ckpt else None
        results = [
            train(
                circuit,
                stream,
                args.examples,
                seeds[0],
                options,
                params=params,
                schedule=schedule,
                checkpoint=checkpoint,
                progress=not args.quiet,
            )
        ]
    else:
        streams = [stream_for(args.data, circuit, args.p_vertical) for _ in seeds]
        results = train_population(
            circuit,
            streams,
            args.examples,
            list(seeds),
            options,
            params=[params] * len(seeds),
            schedule=schedule,
            progress=not args.quiet,
        )
    with transaction():  # model files and histories in place before the checkpoint goes
        _save_trained(args, results, circuit, spiking, stream, outs, hists)
    if use_ckpt and ckpt.exists():
        ckpt.unlink()  # the model file supersedes it
    r = results[0]
    what = (
        f"{len(results)} machines (seeds {seeds[0]}..{seeds[-1]}) in one population"
        if len(results) > 1
        else circuit.name
    )
    print(
        f"trained {what} on {stream.description}: {r.examples_seen} examples in {r.seconds:.1f} s "
        f"({r.engine}/{r.device}) -> {outs[0]}" + (f" ... {outs[-1]}" if len(outs) > 1 else "")
    )
    if args.record_every:
        print(f"weight history ({len(r.history_seen)} snapshots) -> {hists[0]}" + (" ..." if len(hists) > 1 else ""))
    return 0


def evaluate_model(params, circuit, data_spec, n_samples, seed, p_vertical=2 / 3):
    """The measures of a model on a data source, as a dict (bits): the exact
    ones of :func:`hm_neuro.measures.machine_summary` where the hidden states
    can be enumerated, and the sampled F and importance-sampled -log2 P(d)."""
    out = {"circuit": circuit.name, "layers": list(circuit.layers)}
    if data_spec == "bars":
        side = int(round(circuit.n_input**0.5))
        if side * side != circuit.n_input:
            raise bad("data", f"bars needs a square input layer; the model has {circuit.n_input} inputs")
        rows, weights = bars_distribution(size=side, p_vertical=p_vertical)
        out["data"] = "bars (exact distribution)"
    else:
        rows, out["data"] = resolve_data(data_spec, circuit.n_input)
        weights = np.full(len(rows), 1.0 / len(rows))
    if len(rows) * n_samples > measures.MAX_SAMPLED_ROWS:
        raise bad(
            "samples",
            f"{len(rows)} data rows x {n_samples} samples is more than {measures.MAX_SAMPLED_ROWS:.0e} sampled states",
            n_samples,
        )
    with np.errstate(all="ignore"):
        out.update(measures.machine_summary(params, circuit, data_spec, rows=rows, p_vertical=p_vertical))
        rng = tree(seed).child("evaluation").rng()
        out["sampled_free_energy_bits"] = float(
            np.sum(weights * measures.sampled_free_energy(params, rows, n_samples, rng))
        )
        out["importance_neg_log2_prob_bits"] = float(
            -np.sum(weights * measures.importance_log2_prob(params, rows, n_samples, rng))
        )
    out["n_samples"] = n_samples
    return out


def cmd_evaluate(args):
    circuit = load_circuit(args.circuit) if args.circuit else None
    params, circuit, meta = load_model(args.model, circuit)
    if args.samples < 1:
        raise bad("--samples", "must be >= 1", args.samples)
    out = evaluate_model(params, circuit, args.data, args.samples, check_seed(args.seed), args.p_vertical)
    out["examples_seen"] = meta["examples_seen"]
    if args.json:  # always valid JSON: undefined values are null
        print(
            json.dumps(
                {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()},
                sort_keys=True,
                allow_nan=False,
            )
        )
    else:
        for k, v in out.items():
            print(f"{k:32s} {v:.4f}" if isinstance(v, float) else f"{k:32s} {v}")
    return 0


def cmd_protocol(args):
    from .runs.protocol import load_protocol, run_protocol, save_recording

    epochs, text = load_protocol(args.protocol)
    circuit = load_circuit(args.circuit)
    spiking = spiking_options(args, circuit)
    stream = stream_for(args.data, circuit, 2 / 3)
    params = load_model(args.init, circuit)[0] if args.init else None
    seed = check_seed(args.seed)
    out = Path(args.out)
    if out.suffix != ".npz":
        raise bad("--out", "recordings end in .npz", str(out))
    fig_path = out.with_suffix(".png")
    check_outputs([out, fig_path], input_paths(args.data, args.init, args.circuit, args.protocol))

    def measures(p):
        return {k: v for k, v in evaluate_model(p, circuit, args.data, 20, seed).items() if isinstance(v, float)}

    result = run_protocol(
        circuit,
        stream,
        epochs,
        params,
        seed=seed,
        engine=args.engine,
        device=args.device,
        propagation=args.propagation,
        measures=measures,
        progress=not args.quiet,
        spiking=spiking,
    )
    from . import plotting

    save_recording(out, result, text, circuit, seed)
    plotting.save(
        plotting.protocol_figure(result, list(circuit.layers), f"{args.protocol} on {circuit.name}"), fig_path
    )
    for i, r in enumerate(result["epochs"]):
        m = r["measures"]
        key = "kl_data_model_bits" if "kl_data_model_bits" in m else "sampled_free_energy_bits"
        print(f"epoch {i + 1} ({r['epoch']['kind']}, {r['epoch']['examples']} examples): {key} = {m[key]:.4f}")
    print(f"recording -> {out}; figure -> {fig_path}")
    return 0


def cmd_sweep(args):
    from . import plotting
    from .runs import sweep
    from .runs.runner import check_workers, run_tasks

    check_workers(args.workers, args.retries)
    spec = sweep.load_sweep(args.spec) if args.spec else sweep.SweepSpec()
    given = {key for key in ("circuit", "data", "examples", "restarts", "p_vertical", "engine", "device", "seeds")}
    given = {key for key in given if getattr(args, key) is not None}
    for key in given - {"seeds"}:
        setattr(spec, key, getattr(args, key))
    if args.seeds is not None:
        spec.seeds = sweep.parse_seeds(args.seeds)
    spec.grid.update(sweep.parse_grid_option(args.grid))
    spec.validate()
    name = check_name(args.name or (Path(args.spec).stem if args.spec else "sweep"), "--name")
    out = Path(args.out)
    files = [out / f"{name}.csv", out / f"{name}.json", out / f"{name}.png"]
    tasks = sweep.tasks_of(spec, given)  # every circuit and data source checked before anything runs
    check_outputs(
        files,
        input_paths(
            args.spec, spec.data, spec.circuit, *[v for vals in spec.grid.values() for v in vals if isinstance(v, str)]
        ),
    )
    where = (
        f"the Dask cluster at {args.scheduler}"
        if args.scheduler
        else "this process"
        if args.workers == 1
        else f"a local Dask cluster of {args.workers} workers"
    )
    results = run_tasks(
        tasks,
        workers=args.workers,
        scheduler=args.scheduler,
        retries=args.retries,
        progress=not args.quiet,
        desc=name,
        population=args.population,
        announce=lambda: print(
            f"sweep {name}: {len(tasks)} trainings ({len(list(spec.points()))} grid point(s) x "
            f"{len(spec.seeds)} seed(s) x {spec.restarts} restart(s)) on {where}",
            file=sys.stderr,
        ),
    )
    rows = sweep.table(results)
    key = sweep.summary_measure(rows)
    meta = {
        "sweep": name,
        "circuit": spec.circuit,
        "data": spec.data,
        "examples": spec.examples,
        "seeds": list(spec.seeds),
        "restarts": spec.restarts,
        "grid": spec.grid,
        "p_vertical": spec.p_vertical,
        "engine": spec.engine,
        "device": spec.device,
        "spec_file": args.spec,
        "measure": key,
    }
    sweep.save_table(out, name, rows, meta)
    plotting.save(
        plotting.sweep_figure(rows, list(spec.grid), f"sweep {name}: {spec.examples:,} examples per run", key), files[2]
    )
    ok = [r for r in rows if r["status"] == "ok"]
    if ok:
        vals = np.array([r[key] for r in ok], dtype=float)
        print(
            f"{len(ok)}/{len(rows)} trainings done; {key}: median {np.median(vals):.4f}, "
            f"min {vals.min():.4f}, max {vals.max():.4f}"
        )
    failed = [r for r in rows if r["status"] != "ok"]
    for r in failed:
        print(f"task {r['task']} (seed {r['seed']}) failed: {r['error']}", file=sys.stderr)
    print(f"table -> {files[0]}, {files[1]}; figure -> {files[2]}")
    return 1 if failed else 0


def load_experiment(name: str):
    from .experiments import NAMES

    if name not in NAMES:
        raise bad("reproduce", f"unknown experiment; choose one of {list(NAMES)}", name)
    return importlib.import_module(f"hm_neuro.experiments.{name}")


def cmd_reproduce(args):
    import inspect

    mod = load_experiment(args.name)
    accepted = inspect.signature(mod.main).parameters
    kwargs = {"quick": args.quick, "out": args.out}
    if getattr(args, "settings", None) is not None:
        given = args.settings
        args.settings = [x.strip() for x in given.split(",") if x.strip()]
        if not args.settings:
            raise bad("--settings", "names no setting", given)
    for key in (
        "seed",
        "seeds",
        "engine",
        "device",
        "restarts",
        "reading",
        "measure",
        "workers",
        "scheduler",
        "rule",
        "fresh",
        "settings",
        "rng",
        "digits",
    ):
        value = getattr(args, key)
        if value is None:
            continue
        if key not in accepted:
            raise bad(f"--{key}", f"does not apply to the {args.name} experiment", value)
        kwargs[key] = value
    if "reading" in kwargs and kwargs["reading"] not in getattr(mod, "READINGS", {}):
        raise bad("--reading", f"must be one of {sorted(mod.READINGS)}", kwargs["reading"])
    for key in ("seeds", "restarts", "workers"):
        if key in kwargs and not 1 <= kwargs[key] <= 10_000:
            raise bad(f"--{key}", "must be in 1..10000", kwargs[key])
    if "seed" in kwargs:
        check_seed(kwargs["seed"], "--seed")
    check_folder(args.out, "out")
    mod.main(**kwargs)
    return 0


def cmd_animate(args):
    from .plotting import weight_animation

    for key in ("frames", "fps"):
        if getattr(args, key) < 1:
            raise bad(f"--{key}", "must be at least 1", getattr(args, key))
    if args.frames > 10_000 or args.fps > 100:
        raise bad(
            "--frames" if args.frames > 10_000 else "--fps",
            "must be at most 10000 frames and 100 fps",
            max(args.frames, args.fps),
        )
    seen, snaps, circuit = load_history(args.history)
    h = Path(args.history)
    out = Path(args.out) if args.out else h.with_name(h.name.removesuffix(".npz") + ".gif")
    if out.suffix != ".gif":
        raise bad("--out", "animations end in .gif", str(out))
    check_outputs([out], input_paths(args.history))
    if len(seen) < 2:
        raise bad(f"history file {args.history}", "needs at least two snapshots to animate", len(seen))
    weight_animation(seen, snaps, circuit, out, frames=args.frames, fps=args.fps)
    print(f"{len(seen)} snapshots ({int(seen[0]):,}..{int(seen[-1]):,} examples) -> {out}")
    return 0


def cmd_cache(args):
    from .engines.brian2.cache import cache_entries, check_cache, clear_cache

    root = check_cache(write=args.action == "clear")
    if args.action == "clear":
        removed, skipped = clear_cache()
        print(f"removed {removed} cached build(s) from {root / 'builds'}")
        for d in skipped:
            print(f"kept {d}: a running hm-neuro process is using it (clear again when it is done)")
        return 0
    entries, headers = cache_entries(), cache_entries("headers")
    print(f"build cache: {root / 'builds'} (HM_NEURO_CACHE_DIR overrides)")
    print(f"{len(entries)} build(s), {sum(b for _, b in entries) / 1e6:.1f} MB")
    for d, b in entries:
        print(f"  {d.name}  {b / 1e6:.1f} MB")
    if headers:
        print(f"precompiled C++ headers: {root / 'headers'}, {sum(b for _, b in headers) / 1e6:.1f} MB")
    return 0


def cmd_check(args):
    from .check import run_checks

    devices = [d.strip() for d in args.devices.split(",") if d.strip()]
    if not devices:
        raise bad("--devices", "names no device", args.devices)
    for d in devices:
        if d not in DEVICES:
            raise bad("--devices", f"each must be one of {list(DEVICES)}", d)
    if "cpp_standalone" in devices:
        from .engines.brian2.cache import check_cache, check_toolchain

        check_toolchain()
        check_cache()
    return 0 if run_checks(devices=devices, quick=args.quick) else 1


class _Parser(argparse.ArgumentParser):
    """Bad options: one line on stderr (no usage block), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog.split()[0]} --help)\n")


def _train_options(t):
    t.add_argument(
        "--circuit",
        default="bars",
        help="circuit TOML file or shipped name (bars, bars_weight_decay, digits, nines); default bars",
    )
    t.add_argument(
        "--data",
        default="bars",
        help="bars (fresh samples every example), digits, digits:9 (one class), or a .npy/.npz/.csv file of "
        "0/1 rows; default bars",
    )
    t.add_argument("--examples", type=_count, default=2_000_000, help="training examples (2e6 is fine); default 2e6")
    t.add_argument("--seed", type=int, help="seed of every random draw; default 0 (one machine; --seeds for several)")
    t.add_argument(
        "--seeds",
        help="train a population: one machine per seed (10 = 0..9, 3,7 or 5:10), in one "
        "circuit; writes OUT_seedK.npz per machine",
    )
    t.add_argument(
        "--engine",
        choices=ENGINES,
        default="brian2",
        help="brian2 (the circuit; every learning rule), numpy (the reference; wake-sleep), "
        "vectorised (NumPy over a population; every learning rule) or spiking (the circuit of stochastic "
        "spiking units in ms, "
        "options below); default brian2",
    )
    t.add_argument(
        "--rule",
        default="wake-sleep",
        help="learning rule: wake-sleep (the papers', default), wake-sleep:S (S fantasies per sleep "
        "phase), reweighted:K (reweighted wake-sleep, K samples) or reweighted:K:wake (no "
        "sleep-phase update); rules other than wake-sleep run on --engine brian2 (summed "
        "propagation) and vectorised",
    )
    t.add_argument(
        "--device",
        choices=DEVICES,
        default=None,
        help="Brian2 device; default cpp_standalone when a C++ compiler exists, else numpy",
    )
    t.add_argument("--chunk", type=_count, default=MAX_CHUNK, help="examples per Brian2 run; default 1e5")
    t.add_argument("--rng", choices=RNGS, default="philox", help=RNG_HELP)
    t.add_argument(
        "--precision",
        help="finite-precision synapses instead of the circuit's [precision] table: a preset, loihi (8-bit "
        "weights, 13-bit biases, shared exponent, stochastic rounding) or cortex (4.7-bit weights, 26 "
        "levels, stochastic rounding), or float64; default the circuit's (float64)",
    )
    add_spiking_options(t)
    t.add_argument(
        "--propagation",
        choices=PROPAGATIONS,
        default="auto",
        help="Brian2: layer inputs as summed variables over every synapse, or event-driven "
        "(on_pre code for the units that are on); default auto: event-driven from "
        "20,000 synapses",
    )
    t.add_argument(
        "--schedule",
        help="epochs KIND:EXAMPLES,... with KIND in wake-sleep, wake, sleep, frozen; must add up to --examples",
    )
    t.add_argument(
        "--record-every",
        type=_count,
        default=0,
        metavar="N",
        help="snapshot all weights every N examples into OUT.history.npz",
    )
    t.add_argument(
        "--checkpoint-every",
        type=_count,
        default=0,
        metavar="N",
        help="save the whole training state to OUT.checkpoint.npz every N examples (at chunk boundaries) and on Ctrl-C",
    )
    t.add_argument(
        "--resume",
        action="store_true",
        help="continue from OUT.checkpoint.npz (same options); ends bit-identical to an uninterrupted run",
    )
    t.add_argument("--init", help="start from this model file instead of the circuit's initial values")
    t.add_argument("--p-vertical", type=float, default=2 / 3, help="bars: probability of vertical bars; default 2/3")
    t.add_argument("--out", required=True, help="model file to write (.npz)")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _evaluate_options(e):
    e.add_argument("--model", required=True, help="model file (.npz) written by train")
    e.add_argument("--data", default="bars", help="bars (exact distribution), digits[:k] or a data file; default bars")
    e.add_argument("--circuit", help="check the model against this circuit")
    e.add_argument("--samples", type=int, default=100, help="recognition samples per data row; default 100")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--p-vertical", type=float, default=2 / 3, help="bars: probability of vertical bars; default 2/3")
    e.add_argument("--json", action="store_true", help="print one JSON object")


def _protocol_options(pr):
    pr.add_argument(
        "protocol", help="protocol TOML file, or a shipped protocol by name (sleep_deprivation, lesion_imagery)"
    )
    pr.add_argument("--circuit", default="bars", help="circuit file or shipped name; default bars")
    pr.add_argument("--data", default="bars", help="as for train; default bars")
    pr.add_argument("--init", help="start from this model file (e.g. a trained machine)")
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument(
        "--engine",
        choices=["brian2", "numpy", "spiking"],
        default="brian2",
        help="brian2 (the circuit), numpy (the reference) or spiking (the circuit in real time, "
        "rasters as per-phase states); default brian2",
    )
    pr.add_argument("--device", choices=DEVICES)
    pr.add_argument("--propagation", choices=PROPAGATIONS, default="auto")
    add_spiking_options(pr)
    pr.add_argument("--out", required=True, help="recording file to write (.npz)")
    pr.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _sweep_options(sw):
    sw.add_argument(
        "spec", nargs="?", help="sweep TOML file or shipped grid by name (bars_p_vertical); options below override it"
    )
    sw.add_argument("--circuit", help="circuit file or shipped name; default bars")
    sw.add_argument("--data", help="as for train; default bars")
    sw.add_argument("--examples", type=_count, help="examples per training; default 2e6")
    sw.add_argument("--seeds", help="10 (seeds 0..9), 3,7 (a list) or 5:10 (a range); default 0")
    sw.add_argument("--restarts", type=int, help="trainings per seed and grid point (seed + 100000 r); default 1")
    sw.add_argument(
        "--grid",
        action="append",
        metavar="KEY=V1,V2",
        help="a grid axis (repeatable): circuit, data, examples, p_vertical or "
        "learning_rates.SET (lists separated by ';', e.g. "
        "learning_rates.generative_weights=[0.2,0.001];[0.1,0.001])",
    )
    sw.add_argument("--p-vertical", type=float, help="bars: probability of vertical bars; default 2/3")
    sw.add_argument("--engine", choices=["brian2", "numpy"], help="default brian2")
    sw.add_argument(
        "--device", choices=DEVICES, help="Brian2 device; default cpp_standalone when a C++ compiler exists"
    )
    sw.add_argument(
        "--workers",
        type=int,
        default=default_workers(),
        help="local Dask worker processes (1 = run in this process, no Dask); default %(default)s",
    )
    sw.add_argument(
        "--scheduler", metavar="ADDRESS", help="use an existing Dask cluster: tcp://HOST:PORT or a scheduler JSON file"
    )
    sw.add_argument(
        "--population",
        type=int,
        default=None,
        help="machines of one shape trained together in one circuit; default: as few populations as "
        "workers (a machine's result depends on its seed alone), 8 with --rng mt19937 (results then "
        "depend on it, not on the workers)",
    )
    sw.add_argument(
        "--retries", type=int, default=2, help="re-runs of a task lost to a crash or a dead worker; default 2"
    )
    sw.add_argument("--name", help="file name stem of the results; default the spec file's, else 'sweep'")
    sw.add_argument("--out", default="results", help="folder for the table and figure; default results")
    sw.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _reproduce_options(r):
    r.add_argument("name", help="bars, digits, nines, cortex, rasters, rules, spiking or precision")
    r.add_argument("--quick", action="store_true", help="a small, fast version (what CI runs)")
    r.add_argument("--seed", type=int, help="first seed")
    r.add_argument("--seeds", type=int, help="number of seeds (bars, spiking)")
    r.add_argument(
        "--engine",
        choices=ENGINES,
        help="brian2 (the circuit), numpy (the reference), vectorised (NumPy over a population) or, "
        "for bars, spiking (the circuit in real time; the bridge at one step per window)",
    )
    r.add_argument("--device", choices=DEVICES)
    r.add_argument("--rng", choices=RNGS, help="bars, digits: " + RNG_HELP)
    r.add_argument(
        "--rule",
        help="bars: learning rule: wake-sleep (the papers', default), wake-sleep:S (S "
        "fantasies per sleep phase), reweighted:K (reweighted wake-sleep with K samples) or "
        "reweighted:K:wake (no sleep-phase update); rules other than wake-sleep run on the "
        "vectorised engine unless --engine brian2 (the circuit; results then named *_brian2)",
    )
    r.add_argument(
        "--settings",
        help="spiking: default (the bridge, the rate escape, tau_syn = 0.5 ms with and "
        "without a settle; -> spiking.json), sweep (KL against tau_syn and the "
        "window; -> spiking_sweep.json), delays (-> spiking_delays.json) or "
        "comma-separated settings of "
        "hm_neuro.experiments.spiking.SETTINGS; default: default",
    )
    r.add_argument(
        "--fresh",
        action="store_true",
        default=None,
        help="rules: train every rule again even if its bars results are already in --out",
    )
    r.add_argument(
        "--restarts",
        type=int,
        help="bars: machines per seed, the lowest training free energy kept (default 3; 1 is the paper's protocol)",
    )
    r.add_argument("--reading", help="bars: which biases learn at 0.2 (connections, input-biases, weights-only)")
    r.add_argument(
        "--digits",
        action="store_true",
        default=None,
        help="precision: add the digits classification error at 4.7 and 8 bits against float64 (same split)",
    )
    r.add_argument(
        "--measure",
        choices=["free-energy", "expected-cost", "importance"],
        help="digits: description length as the free energy of eq. 5 (default), the expected "
        "cost without its entropy term, or the importance-sampled -log2 P(d) (same 10 samples)",
    )
    r.add_argument(
        "--workers",
        type=int,
        help="bars, digits: local Dask worker processes for the trainings (1 = in this process); default 2",
    )
    r.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="bars, digits: train on this Dask cluster instead (tcp://HOST:PORT or a scheduler JSON file)",
    )
    r.add_argument("--out", default="figures", help="folder for the JSON and PNG files; default figures")


def _animate_options(a):
    a.add_argument("history", help="weight history file (.history.npz)")
    a.add_argument("--out", help="GIF to write; default HISTORY.gif beside the history")
    a.add_argument("--frames", type=int, default=60, help="at most this many frames (log-spaced); default 60")
    a.add_argument("--fps", type=int, default=8, help="frames per second; default 8")


def _cache_options(c):
    c.add_argument("action", choices=["info", "clear"], help="info: list the builds; clear: delete them")


def _check_options(k):
    k.add_argument(
        "--devices",
        default="numpy,cpp_standalone",
        help=f"comma-separated Brian2 devices of {list(DEVICES)}; default numpy,cpp_standalone",
    )
    k.add_argument("--quick", action="store_true", help="the 16-8-1 circuit only (about a minute)")


#: every command: (function, the options it takes, its help)
COMMANDS = {
    "train": (
        cmd_train,
        _train_options,
        dict(
            help="train a machine and save it to a model file",
            description="Online wake-sleep training: one wake and one sleep phase per example.",
            epilog=EPILOG_TRAIN,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        ),
    ),
    "evaluate": (
        cmd_evaluate,
        _evaluate_options,
        dict(
            help="print the papers' measures of a model",
            description="Exact KL(data||model), free energy and the eq. 8 penalty where the hidden "
            "states can be enumerated; sampled free energy and importance-sampled "
            "-log2 P(d) always.  All in bits.",
        ),
    ),
    "protocol": (
        cmd_protocol,
        _protocol_options,
        dict(
            help="run an experiment protocol (epochs, clamps, lesions, rasters)",
            description="Runs the epochs of a protocol TOML file on one compiled Brian2 circuit and "
            "saves rasters, firing probabilities, measures (before the first epoch, every "
            "measure_every examples and after every epoch) and the protocol itself to "
            "--out, and a figure of them beside it (OUT.png).",
        ),
    ),
    "sweep": (
        cmd_sweep,
        _sweep_options,
        dict(
            help="train a grid of machines (seeds x settings) on Dask and tabulate the results",
            description="Every combination of the grid axes is trained for every seed (and restart), on an "
            "embedded Dask cluster (--workers, default 2), in this process (--workers 1) or on an "
            "existing Dask cluster (--scheduler).  Writes OUT/NAME.csv, OUT/NAME.json (one row per "
            "training: final measures in bits, seconds, status and error) and OUT/NAME.png.  Exit "
            "status 1 when some trainings failed (they are in the table with their error).",
            epilog=EPILOG_SWEEP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        ),
    ),
    "reproduce": (
        cmd_reproduce,
        _reproduce_options,
        dict(
            help="run one of the papers' experiments (hm_neuro.experiments.NAME)",
            description="Runs the experiment hm_neuro.experiments.NAME; writes NAME.json and figures into --out.",
        ),
    ),
    "animate": (
        cmd_animate,
        _animate_options,
        dict(
            help="the weight history of a training as an animated GIF",
            description="Reads OUT.history.npz (train --record-every N, or a reproduce run) and writes "
            "a GIF of the generative and recognition weights between the input and the first "
            "hidden layer, one frame per snapshot, labelled with the examples seen.",
        ),
    ),
    "cache": (
        cmd_cache,
        _cache_options,
        dict(
            help="show or clear the cache of compiled Brian2 builds",
            description="Compiled cpp_standalone builds are kept per circuit shape in the user's cache "
            "folder (HM_NEURO_CACHE_DIR overrides it), so a second run compiles nothing.",
        ),
    ),
    "check": (
        cmd_check,
        _check_options,
        dict(
            help="run the equivalence suite on this installation (Brian2, compiler, devices)",
            description="The Brian2 circuit held to the NumPy reference on this machine's Brian2, "
            "compiler and devices: sample for sample with shared uniform numbers, and in "
            "expectation (eqs. 4 and 7 by enumeration).  Prints a table; exit status 1 "
            "if any check fails.",
            epilog="examples:\n  hm-neuro check --quick                 # numpy and cpp_standalone, ~1 min\n"
            "  hm-neuro check --devices numpy,cython  # every check on two runtime targets",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        ),
    ),
}


def build_parser():
    p = _Parser(
        prog="hm-neuro",
        description="Helmholtz machines trained by wake-sleep learning (Hinton, Dayan, Frey & Neal 1995) "
        "as Brian2 circuits, with a NumPy reference.",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for name, (command, add_options, kwargs) in COMMANDS.items():
        parser = sub.add_parser(name, **kwargs)
        add_options(parser)
        parser.set_defaults(func=command)
    return p


def main(argv=None):
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    given = _given_options(parser, argv, args.command)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    for handler in progress.handlers:
        handler.setFormatter(logging.Formatter("hm-neuro: %(message)s"))
    progress.setLevel(logging.WARNING if getattr(args, "quiet", False) else logging.INFO)
    if not args.verbose:
        for name in ("brian2", "py.warnings", "distributed"):
            logging.getLogger(name).setLevel(logging.ERROR)
    interrupts.reset()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        _check_not_empty(args, given)
        with transaction():  # the command's outputs: all of them, or none new
            return args.func(args)
    except HMError as e:
        print(f"hm-neuro {args.command}: error: {_as_flag(str(e), args)}", file=sys.stderr)
        return 2
    except Interrupted as e:
        print(f"hm-neuro {args.command}: {e}", file=sys.stderr)
        return _interrupt_status()
    except KeyboardInterrupt:
        print(f"hm-neuro {args.command}: {_interrupt_name()}; nothing written", file=sys.stderr)
        return _interrupt_status()
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _on_sigterm(signum, frame):
    """SIGTERM (kill, systemd, batch schedulers) is handled as Ctrl-C: the
    training checkpoints where checkpointing is on, private run folders are
    removed, one line says what happened."""
    interrupts.received.append(signum)
    raise KeyboardInterrupt


def _interrupt_name() -> str:
    return "terminated (SIGTERM)" if signal.SIGTERM in interrupts.received else "interrupted"


def _interrupt_status() -> int:
    return 128 + signal.SIGTERM if signal.SIGTERM in interrupts.received else 130


def _given_options(parser, argv: list, command: str) -> set:
    """The destinations of the options given on this command line (not defaults)."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    flags = {s: a.dest for a in sub._actions for s in a.option_strings}
    return {flags[w.split("=")[0]] for w in argv if w.split("=")[0] in flags}


def _check_not_empty(args, given: set):
    """An option given an empty value is an error, never "use the default"."""
    for key in sorted(given):
        value = getattr(args, key, None)
        if isinstance(value, str) and not value.strip():
            raise bad(f"--{key.replace('_', '-')}", "must not be empty", value)


def _as_flag(message: str, args) -> str:
    """Library errors name parameters (``schedule: ...``); on the command
    line, name the option that carries it (``--schedule: ...``).  An error
    about a value from a file or a grid is prefixed by its source
    (``sweep file s.toml: ...``, ``grid point p_vertical=2: ...``) and keeps it."""
    head, sep, rest = message.partition(":")
    key = head.strip()
    if sep and key.isidentifier() and hasattr(args, key) and key not in ("command", "func"):
        return f"--{key.replace('_', '-')}:{rest}"
    return message


if __name__ == "__main__":
    sys.exit(main())
