"""``hm-neuro export``: a trained model's activity as a Neurodata Without
Borders file (:mod:`hm_neuro.files.nwb`)."""

from __future__ import annotations

import argparse

import numpy as np

from ..engines import DEVICES, capabilities, make_engine
from ..errors import bad
from ..files.model_io import load_history, load_model
from ..files.nwb import to_nwb
from ..files.outputs import check_outputs, input_paths
from ..seeds import check_seed
from ..training import TrainResult, stream_for
from .common import add_p_vertical, add_quiet, add_spiking_options, count, spiking_options

EXAMPLES = """examples:
  hm-neuro export --model bars.npz --nwb bars.nwb                       # 100 examples of the spiking circuit
  hm-neuro export --model bars.npz --history bars.history.npz --nwb bars.nwb --engine numpy --examples 500
"""


def run(args):
    if not args.nwb.endswith(".nwb"):
        raise bad("--nwb", "must name a .nwb file", args.nwb)
    check_outputs([args.nwb], input_paths(args.model, args.history))
    if args.examples < 1:
        raise bad("--examples", "must be >= 1", args.examples)
    params, circuit, meta = load_model(args.model)
    history = load_history(args.history) if args.history else None
    if history is not None and history[2].layers != circuit.layers:
        raise bad("--history", f"is of layers {list(history[2].layers)}, the model's are {list(circuit.layers)}")
    spiking = spiking_options(args, circuit)
    stream = stream_for(args.data, circuit, args.p_vertical)
    data = stream.take(args.examples, np.random.default_rng(check_seed(args.seed)))
    frozen = np.zeros(args.examples)  # the trained machine perceives and dreams; nothing learns
    # Brian2's numpy device unless given (a --device given to a NumPy engine is refused by the engine's options)
    device = args.device if args.device is not None else "numpy" if capabilities(args.engine).brian2 else None
    options = {} if device is None else {"device": device}
    if spiking is not None:
        options["spiking"] = spiking
    with make_engine(circuit, args.engine, chunk=args.examples, record_spikes=True, **options) as eng:
        _, recording = eng.run(params, data, seed=check_seed(args.seed), wake_gate=frozen, sleep_gate=frozen)
    result = None
    if history is not None:
        seen, snaps, _ = history
        result = TrainResult(params, meta["examples_seen"], meta["seed"], list(seen), snaps, 0.0, 0.0, "", "")
    training = {**meta.get("training", {}), "recorded": {"examples": args.examples, "data": stream.description}}
    to_nwb(args.nwb, circuit, recording=recording, result=result, training=training)
    if not args.quiet:
        what = "spikes" if spiking is not None else "unit states"
        print(
            f"exported {args.examples} examples of {what} ({args.engine})"
            + (" and the weight history" if result else "")
            + f" -> {args.nwb}"
        )
    return 0


def add_options(e):
    e.add_argument("--model", required=True, help="model file (.npz) written by train")
    e.add_argument("--nwb", required=True, help="the NWB file to write (.nwb)")
    e.add_argument("--history", help="the model's weight history (.history.npz, train --record-every): exported too")
    e.add_argument(
        "--examples", type=count, default=100, help="examples recorded, learning off (wake and sleep each); default 100"
    )
    e.add_argument("--data", default="bars", help="what the machine perceives: bars, digits[:k] or a data file")
    e.add_argument(
        "--engine",
        choices=("spiking", "brian2", "numpy"),
        default="spiking",
        help="spiking (spike times), brian2 or numpy (unit states per example); default spiking",
    )
    e.add_argument("--device", choices=DEVICES, help="Brian2 device; default numpy")
    e.add_argument("--seed", type=int, default=0)
    add_p_vertical(e)
    add_spiking_options(e)
    add_quiet(e)


#: the command: (what it runs, its options, its help)
COMMAND = (
    run,
    add_options,
    dict(
        help="write a model's activity (and weight history) as an NWB file",
        description="Record a trained model perceiving and dreaming for --examples examples\n"
        "(learning off) on the spiking circuit (spike times) or the binary one (unit\n"
        "states), label every example's wake and sleep phase, and write it with the\n"
        "weight history and the circuit as a Neurodata Without Borders file\n"
        "(pynwb: pip install 'hm_neuro[nwb]').",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ),
)
