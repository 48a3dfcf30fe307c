"""The ``hm-neuro`` command line.

Bad input prints one line naming the problem on stderr and exits with status
2; no traceback, and no output file is left behind (files are written
atomically, at the end).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import sys
from pathlib import Path

import numpy as np

from .errors import HMError, bad
from .training import Interrupted

EXPERIMENTS_DIR = Path(__file__).resolve().parent.parent / "experiments"

EPILOG_TRAIN = """examples:
  hm-neuro train --circuit bars --data bars --examples 2e6 --out bars.npz
  hm-neuro train --circuit digits --data digits:9 --examples 1e5 --engine numpy --out nine.npz
  hm-neuro train --circuit bars --data bars --examples 2e5 --record-every 10000 --out b.npz
  hm-neuro train --circuit bars --data bars --examples 3000 \\
                 --schedule wake-sleep:2000,wake:500,frozen:500 --out b.npz
"""


def _count(text: str) -> int:
    """Accept 2e6 as well as 2000000 for example counts."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if v != int(v) or v < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0: {text!r}")
    return int(v)


def _stream(spec: str, circuit, p_vertical: float):
    from .data import resolve_data
    from .training import BarsStream, SweepStream

    if spec == "bars":
        side = int(round(circuit.n_input ** 0.5))
        if side * side != circuit.n_input:
            raise bad("--data bars", f"needs a square input layer; circuit '{circuit.name}' has "
                      f"{circuit.n_input} inputs")
        return BarsStream(p_vertical=p_vertical, size=side)
    rows, desc = resolve_data(spec, circuit.n_input)
    return SweepStream(rows, desc)


def cmd_train(args):
    from .circuit import load_circuit
    from .model_io import load_model, save_history, save_model
    from .training import parse_schedule, train

    circuit = load_circuit(args.circuit)
    stream = _stream(args.data, circuit, args.p_vertical)
    params = None
    if args.init:
        params, _, _ = load_model(args.init, circuit)
    schedule = parse_schedule(args.schedule) if args.schedule else None
    if args.examples < 1:
        raise bad("--examples", "must be >= 1", args.examples)
    out = Path(args.out)
    if out.suffix != ".npz":
        raise bad("--out", "model files end in .npz", str(out))
    if args.chunk < 1:
        raise bad("--chunk", "must be >= 1", args.chunk)
    ckpt = out.with_name(out.stem + ".checkpoint.npz")
    if args.resume and not ckpt.exists():
        raise bad("--resume", "no checkpoint to resume from", str(ckpt))
    result = train(circuit, stream, args.examples, seed=args.seed, engine=args.engine,
                   device=args.device, max_chunk=args.chunk, params=params, schedule=schedule,
                   record_every=args.record_every, progress=not args.quiet,
                   checkpoint=ckpt if (args.checkpoint_every or args.resume) else None,
                   checkpoint_every=args.checkpoint_every, resume=args.resume)
    save_model(out, result.params, circuit, args.seed, result.examples_seen, result.engine, result.device)
    if ckpt.exists():
        ckpt.unlink()  # the model file supersedes it
    msg = (f"trained {circuit.name} on {stream.description}: {result.examples_seen} examples in "
           f"{result.seconds:.1f} s ({result.engine}/{result.device}) -> {out}")
    if args.record_every:
        hist_path = out.with_name(out.stem + ".history.npz")
        save_history(hist_path, result.history_seen, result.history, circuit, args.seed)
        msg += f"\nweight history ({len(result.history_seen)} snapshots) -> {hist_path}"
    print(msg)
    return 0


def evaluate_model(params, circuit, data_spec, n_samples, seed, p_vertical=2 / 3):
    """The measures of a model on a data source, as a dict (bits)."""
    from . import measures
    from .data import bars_distribution, resolve_data

    rng = np.random.default_rng(seed)
    out = {"circuit": circuit.name, "layers": list(circuit.layers)}
    if data_spec == "bars":
        side = int(round(circuit.n_input ** 0.5))
        patterns, probs = bars_distribution(size=side, p_vertical=p_vertical)
        out["data"] = "bars (exact distribution)"
        out.update(measures.exact_summary(params, patterns, probs))
        rows = patterns
        weights = probs
    else:
        rows, out["data"] = resolve_data(data_spec, circuit.n_input)
        weights = np.full(len(rows), 1.0 / len(rows))
        if circuit.n_hidden_units <= measures.MAX_ENUMERATED_HIDDEN:
            fe = measures.exact_free_energy(params, rows)
            out["free_energy_bits"] = float(np.mean(fe["free_energy"]))
            out["neg_log2_prob_bits"] = float(np.mean(fe["neg_log2_prob"]))
            out["kl_q_p_bits"] = float(np.mean(fe["kl_q_p"]))
    out["sampled_free_energy_bits"] = float(np.sum(weights * measures.sampled_free_energy(params, rows, n_samples, rng)))
    out["importance_neg_log2_prob_bits"] = float(-np.sum(weights * measures.importance_log2_prob(params, rows, n_samples, rng)))
    out["n_samples"] = n_samples
    return out


def cmd_evaluate(args):
    from .circuit import load_circuit
    from .model_io import load_model

    circuit = load_circuit(args.circuit) if args.circuit else None
    params, circuit, meta = load_model(args.model, circuit)
    if args.samples < 1:
        raise bad("--samples", "must be >= 1", args.samples)
    out = evaluate_model(params, circuit, args.data, args.samples, args.seed, args.p_vertical)
    out["examples_seen"] = meta["examples_seen"]
    if args.json:
        print(json.dumps(out, sort_keys=True))
    else:
        for k, v in out.items():
            print(f"{k:32s} {v:.4f}" if isinstance(v, float) else f"{k:32s} {v}")
    return 0


def cmd_protocol(args):
    from .circuit import load_circuit
    from .model_io import load_model
    from .protocol import load_protocol, run_protocol, save_recording

    epochs, text = load_protocol(args.protocol)
    circuit = load_circuit(args.circuit)
    stream = _stream(args.data, circuit, 2 / 3)
    params = load_model(args.init, circuit)[0] if args.init else None
    out = Path(args.out)
    if out.suffix != ".npz":
        raise bad("--out", "recordings end in .npz", str(out))

    def measures(p):
        return {k: v for k, v in evaluate_model(p, circuit, args.data, 20, args.seed).items()
                if isinstance(v, float)}

    for ep in epochs:  # fail on a bad lesion or clamp before compiling anything
        ep.perturbation(circuit, np.random.default_rng(0))
    result = run_protocol(circuit, stream, epochs, params, seed=args.seed, device=args.device,
                          measures=measures, progress=not args.quiet)
    save_recording(out, result, text, circuit, args.seed)
    for i, r in enumerate(result["epochs"]):
        m = r["measures"]
        key = "kl_data_model_bits" if "kl_data_model_bits" in m else "sampled_free_energy_bits"
        print(f"epoch {i + 1} ({r['epoch']['kind']}, {r['epoch']['examples']} examples): {key} = {m[key]:.4f}")
    print(f"recording -> {out}")
    return 0


def load_experiment(name: str):
    path = EXPERIMENTS_DIR / f"{name}.py"
    known = sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.py") if not p.stem.startswith("_"))
    if not path.exists():
        raise bad("reproduce", f"unknown experiment; choose one of {known}", name)
    spec = importlib.util.spec_from_file_location(f"hm_neuro_experiment_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def script_main(path):
    """``python experiments/NAME.py ARGS`` runs ``hm-neuro reproduce NAME ARGS``."""
    sys.exit(main(["reproduce", Path(path).stem, *sys.argv[1:]]))


def cmd_reproduce(args):
    import inspect

    mod = load_experiment(args.name)
    accepted = inspect.signature(mod.main).parameters
    kwargs = {"quick": args.quick, "out": args.out}
    for key in ("seed", "seeds", "engine", "device", "restarts", "reading", "measure"):
        value = getattr(args, key)
        if value is None:
            continue
        if key not in accepted:
            raise bad(f"--{key}", f"does not apply to the {args.name} experiment", value)
        kwargs[key] = value
    if "reading" in kwargs and kwargs["reading"] not in getattr(mod, "READINGS", {}):
        raise bad("--reading", f"must be one of {sorted(mod.READINGS)}", kwargs["reading"])
    for key in ("seeds", "restarts"):
        if key in kwargs and kwargs[key] < 1:
            raise bad(f"--{key}", "must be >= 1", kwargs[key])
    mod.main(**kwargs)
    return 0


def build_parser():
    p = argparse.ArgumentParser(
        prog="hm-neuro",
        description="Helmholtz machines trained by wake-sleep learning (Hinton, Dayan, Frey & Neal 1995) "
                    "as Brian2 circuits, with a NumPy reference.")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train a machine and save it to a model file",
                       description="Online wake-sleep training: one wake and one sleep phase per example.",
                       epilog=EPILOG_TRAIN, formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--circuit", default="bars", help="circuit TOML file or shipped name (bars, digits, nines); default bars")
    t.add_argument("--data", default="bars",
                   help="bars (fresh samples every example), digits, digits:9 (one class), or a .npy/.npz/.csv file of 0/1 rows; default bars")
    t.add_argument("--examples", type=_count, default=2_000_000, help="training examples (2e6 is fine); default 2e6")
    t.add_argument("--seed", type=int, default=0, help="seed of every random draw; default 0")
    t.add_argument("--engine", choices=["brian2", "numpy"], default="brian2",
                   help="brian2 (the circuit) or numpy (the reference); default brian2")
    t.add_argument("--device", choices=["numpy", "cython", "cpp_standalone"], default=None,
                   help="Brian2 device; default cpp_standalone when a C++ compiler exists, else numpy")
    t.add_argument("--chunk", type=_count, default=100_000, help="examples per Brian2 run; default 1e5")
    t.add_argument("--schedule", help="epochs KIND:EXAMPLES,... with KIND in wake-sleep, wake, sleep, frozen; "
                                      "must add up to --examples")
    t.add_argument("--record-every", type=_count, default=0, metavar="N",
                   help="snapshot all weights every N examples into OUT.history.npz")
    t.add_argument("--checkpoint-every", type=_count, default=0, metavar="N",
                   help="save the whole training state to OUT.checkpoint.npz every N examples (at chunk "
                        "boundaries) and on Ctrl-C")
    t.add_argument("--resume", action="store_true",
                   help="continue from OUT.checkpoint.npz (same options); ends bit-identical to an "
                        "uninterrupted run")
    t.add_argument("--init", help="start from this model file instead of the circuit's initial values")
    t.add_argument("--p-vertical", type=float, default=2 / 3, help="bars: probability of vertical bars; default 2/3")
    t.add_argument("--out", required=True, help="model file to write (.npz)")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="print the papers' measures of a model",
                       description="Exact KL(data||model), free energy and the eq. 8 penalty where the hidden "
                                   "states can be enumerated; sampled free energy and importance-sampled "
                                   "-log2 P(d) always.  All in bits.")
    e.add_argument("--model", required=True, help="model file (.npz) written by train")
    e.add_argument("--data", default="bars", help="bars (exact distribution), digits[:k] or a data file; default bars")
    e.add_argument("--circuit", help="check the model against this circuit")
    e.add_argument("--samples", type=int, default=100, help="recognition samples per data row; default 100")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--p-vertical", type=float, default=2 / 3, help="bars: probability of vertical bars; default 2/3")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.set_defaults(func=cmd_evaluate)

    pr = sub.add_parser("protocol", help="run an experiment protocol (epochs, clamps, lesions, rasters)",
                        description="Runs the epochs of a protocol TOML file on one compiled Brian2 circuit and "
                                    "saves rasters, measures after every epoch and the protocol itself to --out.")
    pr.add_argument("protocol", help="protocol TOML file (see protocols/)")
    pr.add_argument("--circuit", default="bars", help="circuit file or shipped name; default bars")
    pr.add_argument("--data", default="bars", help="as for train; default bars")
    pr.add_argument("--init", help="start from this model file (e.g. a trained machine)")
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument("--device", choices=["numpy", "cython", "cpp_standalone"])
    pr.add_argument("--out", required=True, help="recording file to write (.npz)")
    pr.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    pr.set_defaults(func=cmd_protocol)

    r = sub.add_parser("reproduce", help="run one of the papers' experiments (experiments/NAME.py)",
                       description="Runs experiments/NAME.py; writes NAME.json and figures into --out.")
    r.add_argument("name", help="bars, digits, nines or cortex")
    r.add_argument("--quick", action="store_true", help="a small, fast version (what CI runs)")
    r.add_argument("--seed", type=int, help="first seed")
    r.add_argument("--seeds", type=int, help="number of seeds (bars)")
    r.add_argument("--engine", choices=["brian2", "numpy"])
    r.add_argument("--device", choices=["numpy", "cython", "cpp_standalone"])
    r.add_argument("--restarts", type=int, help="bars: machines per seed, the lowest training free energy kept "
                                                "(default 3; 1 is the paper's protocol)")
    r.add_argument("--reading", help="bars: which biases learn at 0.2 (connections, input-biases, weights-only)")
    r.add_argument("--measure", choices=["free-energy", "expected-cost"],
                   help="digits: description length as the free energy of eq. 5 (default) or the expected "
                        "cost without its entropy term")
    r.add_argument("--out", default="figures", help="folder for the JSON and PNG files; default figures")
    r.set_defaults(func=cmd_reproduce)
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        for name in ("brian2", "py.warnings"):
            logging.getLogger(name).setLevel(logging.ERROR)
    try:
        return args.func(args)
    except HMError as e:
        print(f"hm-neuro {args.command}: error: {e}", file=sys.stderr)
        return 2
    except Interrupted as e:
        print(f"hm-neuro {args.command}: {e}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"hm-neuro {args.command}: interrupted; nothing written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
