"""Bad input to ``hm-neuro export``: NWB output, model and history files, engine options (id, setup writing
the inputs into the folder or None, arguments, stderr pattern[, environment])."""

from .writers import model_file

EXPORT = [
    (
        "missing-model",
        None,
        ["export", "--model", "none.npz", "--nwb", "x.nwb"],
        r"model file none\.npz: does not exist",
    ),
    ("nwb-suffix", model_file, ["export", "--model", "m.npz", "--nwb", "m.npz"], r"--nwb: must name a \.nwb file"),
    (
        "examples-0",
        model_file,
        ["export", "--model", "m.npz", "--nwb", "x.nwb", "--examples", "0"],
        r"--examples: must be >= 1",
    ),
    (
        "history-missing",
        model_file,
        ["export", "--model", "m.npz", "--nwb", "x.nwb", "--history", "none.npz"],
        r"none\.npz",
    ),
    (
        "history-is-a-model",
        model_file,
        ["export", "--model", "m.npz", "--nwb", "x.nwb", "--history", "m.npz"],
        r"history file m\.npz: not an hm_neuro weight history",
    ),
    (
        "window-on-numpy",
        model_file,
        ["export", "--model", "m.npz", "--nwb", "x.nwb", "--engine", "numpy", "--window", "2"],
        r"--window: applies to --engine spiking only",
    ),
    (
        "device-on-numpy",
        model_file,
        ["export", "--model", "m.npz", "--nwb", "x.nwb", "--engine", "numpy", "--device", "cpp_standalone"],
        r"--device: applies to the brian2 engine only",
    ),
]
