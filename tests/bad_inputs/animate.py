"""Bad input to ``hm-neuro animate``: history files and the animation's options (id, setup writing
the inputs into the folder or None, arguments, stderr pattern[, environment])."""

import numpy as np

from .writers import history_file

ANIMATE = [
    (
        "history-no-circuit",
        lambda d: history_file(d, circuit=None),
        ["animate", "h.history.npz"],
        r"history file h\.history\.npz: missing 'circuit'",
    ),
    (
        "history-circuit-not-json",
        lambda d: history_file(d, circuit=np.array("{layers")),
        ["animate", "h.history.npz"],
        r"history file h\.history\.npz: has no readable circuit",
    ),
    (
        "history-circuit-bad-layers",
        lambda d: history_file(d, circuit=np.array('{"layers": [16], "learning_rates": {}}')),
        ["animate", "h.history.npz"],
        r"history file h\.history\.npz: circuit: layers: need an input layer",
    ),
    (
        "history-no-examples",
        lambda d: history_file(d, examples_seen=None),
        ["animate", "h.history.npz"],
        r"history file h\.history\.npz: missing 'examples_seen'",
    ),
    (
        "history-examples-strings",
        lambda d: history_file(d, examples_seen=np.array(["a", "b", "c"])),
        ["animate", "h.history.npz"],
        r"history file h\.history\.npz: 'examples_seen' must be a list of whole numbers",
    ),
    (
        "history-examples-short",
        lambda d: history_file(d, examples_seen=np.array([0, 100])),
        ["animate", "h.history.npz"],
        r"history file h\.history\.npz: array 'generative_weights_0' has shape \(3, 128\); 2 snapshots",
    ),
    (
        "history-weights-missing",
        lambda d: history_file(d, recognition_weights_1=None),
        ["animate", "h.history.npz"],
        r"history file h\.history\.npz: missing array 'recognition_weights_1'",
    ),
    (
        "history-weights-shape",
        lambda d: history_file(d, generative_weights_0=np.zeros((3, 5))),
        ["animate", "h.history.npz"],
        r"array 'generative_weights_0' has shape \(3, 5\)",
    ),
    (
        "history-weights-nan",
        lambda d: history_file(d, generative_biases_0=np.full((3, 16), np.nan)),
        ["animate", "h.history.npz"],
        r"array 'generative_biases_0' holds non-finite values",
    ),
    (
        "animate-frames-0",
        lambda d: history_file(d),
        ["animate", "h.history.npz", "--frames", "0"],
        r"--frames: must be at least 1 \(got 0\)",
    ),
    (
        "animate-fps-negative",
        lambda d: history_file(d),
        ["animate", "h.history.npz", "--fps", "-2"],
        r"--fps: must be at least 1 \(got -2\)",
    ),
]
