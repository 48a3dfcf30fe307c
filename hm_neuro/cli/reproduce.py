"""``hm-neuro reproduce``: one of the papers' experiments (hm_neuro.experiments)."""

from __future__ import annotations

import importlib

from ..engines import DEVICES, ENGINES, RNGS
from ..errors import bad
from ..files.outputs import check_folder
from ..seeds import check_seed
from .common import RNG_HELP


def load_experiment(name: str):
    from ..experiments import NAMES

    if name not in NAMES:
        raise bad("reproduce", f"unknown experiment; choose one of {list(NAMES)}", name)
    return importlib.import_module(f"hm_neuro.experiments.{name}")


#: the parsed arguments that are not the experiment's settings
NOT_SETTINGS = ("name", "command", "func", "verbose")


def run(args):
    from ..experiments.settings import accepted

    mod = load_experiment(args.name)
    names = accepted(mod.Settings)
    if getattr(args, "settings", None) is not None:
        given = args.settings
        args.settings = [x.strip() for x in given.split(",") if x.strip()]
        if not args.settings:
            raise bad("--settings", "names no setting", given)
    kwargs = {}
    for key, value in vars(args).items():  # the options given, in the parser's order
        if key in NOT_SETTINGS or value is None:
            continue
        if key not in names:
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
    mod.main(mod.Settings(**kwargs))
    return 0


def add_options(r):
    r.add_argument("name", help="bars, digits, nines, cortex, rasters, rules, spiking, precision or lateral")
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
        "hm_neuro.experiments.spiking.SETTINGS; default: default. precision: default, per-layer, "
        "hidden-state, mechanisms, threshold or digits (the digits rows alone). "
        "lateral: comma-separated settings of hm_neuro.experiments.lateral.SETTINGS "
        "(factorial, recognition, recognition-fast, generative, both, factorial-upper-fast, "
        "both-upper-fast); default: the first five",
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


#: the command: (what it runs, its options, its help)
COMMAND = (
    run,
    add_options,
    dict(
        help="run one of the papers' experiments (hm_neuro.experiments.NAME)",
        description="Runs the experiment hm_neuro.experiments.NAME; writes NAME.json and figures into --out.",
    ),
)
