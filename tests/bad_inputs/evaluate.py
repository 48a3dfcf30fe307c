"""Bad input to ``hm-neuro evaluate``: model files (id, setup writing
the inputs into the folder or None, arguments, stderr pattern[, environment])."""

import os

import numpy as np

from .writers import bytes_file, model_file, rows_file

EVALUATE = [
    ("missing-model", None, ["evaluate", "--model", "none.npz"], r"model file none\.npz: does not exist"),
    ("samples-1e9", lambda d: model_file(d), ["evaluate", "--model", "m.npz", "--samples", "1e9"], r"--samples"),
    (
        "model-without-seed",
        lambda d: model_file(d, seed=None),
        ["evaluate", "--model", "m.npz", "--samples", "5"],
        r"model file m\.npz: .*seed",
    ),
    (
        "model-examples-many",
        lambda d: model_file(d, examples_seen=np.array("many")),
        ["evaluate", "--model", "m.npz", "--samples", "5"],
        r"model file m\.npz: .*examples_seen",
    ),
    (
        "model-string-weights",
        lambda d: model_file(d, generative_weights_0=np.full((8, 16), "w")),
        ["evaluate", "--model", "m.npz", "--samples", "5"],
        r"model file m\.npz: .*generative_weights_0",
    ),
    (
        "model-random-bytes",
        lambda d: bytes_file(d, "m.npz", os.urandom(3000)),
        ["evaluate", "--model", "m.npz"],
        r"model file m\.npz: is not an \.npz archive \(no zip header\)",
    ),
    (
        "model-width-vs-data",
        lambda d: (model_file(d, circuit="nines"), rows_file(d, "rows.npy")),
        ["evaluate", "--model", "m.npz", "--data", "rows.npy"],
        r"rows have 16 values but .* 64 units",
    ),
    (
        "model-training-not-json",
        lambda d: model_file(d, training=np.array("{x")),
        ["evaluate", "--model", "m.npz"],
        r"model file m\.npz: 'training' is not JSON",
    ),
]
