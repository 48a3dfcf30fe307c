"""``hm-neuro evaluate``: the papers' measures of a model file."""

from __future__ import annotations

import json
import math

from .. import measures
from ..errors import bad
from ..files.model_io import load_model
from ..model import load_circuit
from ..seeds import check_seed
from .common import add_p_vertical


def run(args):
    circuit = load_circuit(args.circuit) if args.circuit else None
    params, circuit, meta = load_model(args.model, circuit)
    if args.samples < 1:
        raise bad("--samples", "must be >= 1", args.samples)
    out = measures.evaluate_model(params, circuit, args.data, args.samples, check_seed(args.seed), args.p_vertical)
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


def add_options(e):
    e.add_argument("--model", required=True, help="model file (.npz) written by train")
    e.add_argument("--data", default="bars", help="bars (exact distribution), digits[:k] or a data file; default bars")
    e.add_argument("--circuit", help="check the model against this circuit")
    e.add_argument("--samples", type=int, default=100, help="recognition samples per data row; default 100")
    e.add_argument("--seed", type=int, default=0)
    add_p_vertical(e)
    e.add_argument("--json", action="store_true", help="print one JSON object")


#: the command: (what it runs, its options, its help)
COMMAND = (
    run,
    add_options,
    dict(
        help="print the papers' measures of a model",
        description="Exact KL(data||model), free energy and the eq. 8 penalty where the hidden "
        "states can be enumerated; sampled free energy and importance-sampled "
        "-log2 P(d) always.  All in bits.",
    ),
)
