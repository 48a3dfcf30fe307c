"""``hm-neuro protocol``: a cortical-model experiment's epochs on one circuit."""

from __future__ import annotations

from pathlib import Path

from ..engines import DEVICES, PROPAGATIONS
from ..errors import bad
from ..files.model_io import load_model
from ..files.outputs import check_outputs, input_paths
from ..measures import FloatMeasures
from ..model import load_circuit
from ..seeds import check_seed
from ..training import stream_for
from .common import add_quiet, add_spiking_options, spiking_options


def run(args):
    from ..runs.protocol import load_protocol, run_protocol, save_recording

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

    result = run_protocol(
        circuit,
        stream,
        epochs,
        params,
        seed=seed,
        engine=args.engine,
        device=args.device,
        propagation=args.propagation,
        measures=FloatMeasures(circuit, args.data, seed),
        progress=not args.quiet,
        spiking=spiking,
    )
    from .. import plotting

    save_recording(out, result, text, circuit, seed)
    plotting.save(
        plotting.protocol_figure(result, list(circuit.layers), f"{Path(args.protocol).stem} on {circuit.name}"),
        fig_path,
    )
    for i, r in enumerate(result["epochs"]):
        m = r["measures"]
        key = "kl_data_model_bits" if "kl_data_model_bits" in m else "sampled_free_energy_bits"
        print(f"epoch {i + 1} ({r['epoch']['kind']}, {r['epoch']['examples']} examples): {key} = {m[key]:.4f}")
    print(f"recording -> {out}; figure -> {fig_path}")
    return 0


def add_options(pr):
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
    add_quiet(pr)


#: the command: (what it runs, its options, its help)
COMMAND = (
    run,
    add_options,
    dict(
        help="run an experiment protocol (epochs, clamps, lesions, rasters)",
        description="Runs the epochs of a protocol TOML file on one compiled Brian2 circuit and "
        "saves rasters, firing probabilities, measures (before the first epoch, at the start of every "
        "epoch with its lesions and clamps on, every measure_every examples and after every epoch) and "
        "the protocol itself to --out, and a figure of them beside it (OUT.png: one axis per measure, "
        "a lesion or clamp drawn as the step it is).",
    ),
)
