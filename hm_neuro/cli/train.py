"""``hm-neuro train``: one machine or a population, to model files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..engines import DEVICES, ENGINES, MAX_CHUNK, PROPAGATIONS, RNGS, EngineOptions
from ..errors import bad
from ..files.model_io import Continuation, load_model, save_history, save_model, transaction
from ..files.outputs import check_outputs, input_paths
from ..model import Precision, Rule, load_circuit
from ..seeds import check_seed
from ..training import (
    Checkpointing,
    Epoch,
    array_digest,
    checkpoint_progress,
    parse_schedule,
    stream_for,
    train,
    train_population,
)
from .common import RNG_HELP, add_p_vertical, add_quiet, add_spiking_options, count, spiking_options

#: examples of a training without --examples or --schedule
DEFAULT_EXAMPLES = 2_000_000

EPILOG_TRAIN = """examples:
  hm-neuro train --circuit bars --data bars --examples 2e6 --out bars.npz
  hm-neuro train --circuit digits --data digits:9 --examples 1e5 --engine numpy --out nine.npz
  hm-neuro train --circuit bars --data bars --examples 2e5 --record-every 10000 --out b.npz
  hm-neuro train --circuit bars --data bars --schedule wake-sleep:2000,wake:500,frozen:500 --out b.npz
"""


def _train_seeds(args, out: Path):
    """The seeds of ``train`` (one, or a population by --seeds) and their model files."""
    if args.seeds is not None:
        from ..runs.sweep import parse_seeds

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


def _train(args, circuit, stream, spiking, seeds, params, schedule, checkpoint) -> list:
    """One machine (with its checkpoint) or a population of ``seeds``, as the options say."""
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
    progress = not args.quiet
    if len(seeds) == 1:
        return [
            train(circuit, stream, schedule, seeds[0], options, params=params, checkpoint=checkpoint, progress=progress)
        ]
    streams = [stream_for(args.data, circuit, args.p_vertical) for _ in seeds]
    return train_population(
        circuit, streams, schedule, list(seeds), options, params=[params] * len(seeds), progress=progress
    )


def run(args):
    circuit = load_circuit(args.circuit)
    if args.precision is not None:
        circuit = circuit.replace(precision=Precision.parse(args.precision, "--precision"))
    stream = stream_for(args.data, circuit, args.p_vertical)
    params = _initial_model(args.init, circuit) if args.init else None
    if args.examples is not None and args.examples < 1:
        raise bad("--examples", "must be >= 1", args.examples)
    schedule = parse_schedule(args.schedule) if args.schedule else None
    total = sum(e.examples for e in schedule) if schedule else None
    if args.examples is None:  # a schedule says how many; without one, the default
        args.examples = total or DEFAULT_EXAMPLES
    if schedule is None:
        schedule = [Epoch(args.examples)]
    elif total != args.examples:
        raise bad("schedule", f"epochs add up to {total} examples but {args.examples} were asked for", total)

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
    checkpoint = Checkpointing(ckpt, args.checkpoint_every, args.resume, fingerprint) if use_ckpt else None
    results = _train(args, circuit, stream, spiking, seeds, params, schedule, checkpoint)
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


def add_options(t):
    """The options of ``train``, in the order ``--help`` lists them."""
    _add_machine_options(t)
    _add_simulation_options(t)
    _add_output_options(t)


def _add_machine_options(t):
    """What is trained, on what data, for how long, with which rule and engine."""
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
    t.add_argument(
        "--examples", type=count, help="training examples (2e6 is fine); default 2e6, or the total of --schedule"
    )
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


def _add_simulation_options(t):
    """How the engine simulates it, its synapses' precision and its epochs."""
    t.add_argument(
        "--device",
        choices=DEVICES,
        default=None,
        help="Brian2 device; default cpp_standalone when a C++ compiler exists, else numpy",
    )
    t.add_argument("--chunk", type=count, default=MAX_CHUNK, help="examples per Brian2 run; default 1e5")
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
        help="epochs KIND:EXAMPLES,... with KIND in wake-sleep, wake, sleep, frozen; their total is the "
        "number of examples (--examples, if given, must equal it)",
    )


def _add_output_options(t):
    """Where the model goes, its history and checkpoints, and where it starts."""
    t.add_argument(
        "--record-every",
        type=count,
        default=0,
        metavar="N",
        help="snapshot all weights every N examples into OUT.history.npz",
    )
    t.add_argument(
        "--checkpoint-every",
        type=count,
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
    add_p_vertical(t)
    t.add_argument("--out", required=True, help="model file to write (.npz)")
    add_quiet(t)


#: the command: (what it runs, its options, its help)
COMMAND = (
    run,
    add_options,
    dict(
        help="train a machine and save it to a model file",
        description="Online wake-sleep training: one wake and one sleep phase per example.",
        epilog=EPILOG_TRAIN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ),
)
