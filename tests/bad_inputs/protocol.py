"""Bad input to ``hm-neuro protocol``: protocol files and outputs (id, setup writing
the inputs into the folder or None, arguments, stderr pattern[, environment])."""

import os

from .writers import model_file, protocol_file, text_file

PROTOCOL = [
    (
        "protocol-out-is-init",
        lambda d: model_file(d),
        ["protocol", "lesion_imagery", "--init", "m.npz", "--out", "m.npz"],
        r"output: would overwrite the input m\.npz",
    ),
    (
        "protocol-figure-is-a-folder",
        lambda d: (model_file(d), os.mkdir(d / "o.png")),
        ["protocol", "lesion_imagery", "--init", "m.npz", "--out", "o.npz"],
        r"output: is a directory.*o\.png",
    ),
    (
        "protocol-is-a-folder",
        lambda d: (model_file(d), os.mkdir(d / "p.toml")),
        ["protocol", "p.toml", "--init", "m.npz", "--out", "o.npz"],
        r"p\.toml",
    ),
    (
        "protocol-clamp-layer-name",
        lambda d: (model_file(d), protocol_file(d, "p.toml", "clamp = { top = [1] }")),
        ["protocol", "p.toml", "--init", "m.npz", "--out", "o.npz"],
        r"clamp",
    ),
    (
        "protocol-clamp-string",
        lambda d: (model_file(d), protocol_file(d, "p.toml", 'clamp = { 2 = "on" }')),
        ["protocol", "p.toml", "--init", "m.npz", "--out", "o.npz"],
        r"clamp",
    ),
    (
        "protocol-epoch-not-table",
        lambda d: (model_file(d), text_file(d, "p.toml", "epoch = [1, 2]\n")),
        ["protocol", "p.toml", "--init", "m.npz", "--out", "o.npz"],
        r"epoch",
    ),
]
