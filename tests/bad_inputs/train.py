"""Bad input to ``hm-neuro train``: option values, data names, sizes and
numbers, outputs over inputs, model and circuit files, spiking options (id,
setup writing the inputs into the folder or None, arguments, stderr
pattern[, environment])."""

import os

import numpy as np

from .writers import (
    ENV_FILE_CACHE,
    bytes_file,
    circuit_file,
    huge_npy,
    huge_npz,
    model_file,
    npy_with_header,
    rows_file,
    text_file,
)

TRAIN = [
    (
        "unknown-circuit",
        None,
        ["train", "--circuit", "nope", "--out", "m.npz"],
        r"--circuit: no such circuit; names are "
        r"\['bars', 'bars_consolidation', 'bars_lateral', 'bars_weight_decay', 'digits', 'nines'\]",
    ),
    (
        "missing-data-file",
        None,
        ["train", "--data", "missing.npy", "--out", "m.npz"],
        r"data file missing\.npy: does not exist",
    ),
    (
        "examples-negative",
        None,
        ["train", "--examples", "-5", "--out", "m.npz"],
        r"--examples: .*whole number in 0..1e12",
    ),
    ("examples-zero", None, ["train", "--examples", "0", "--out", "m.npz"], r"--examples: must be >= 1"),
    ("unknown-engine", None, ["train", "--engine", "tensorflow", "--out", "m.npz"], r"--engine: invalid choice"),
    ("schedule-kind", None, ["train", "--schedule", "nap:100", "--out", "m.npz"], r"epoch kind: must be one of"),
    (
        "schedule-sum",
        None,
        ["train", "--examples", "100", "--schedule", "wake-sleep:50", "--out", "m.npz"],
        r"schedule: epochs add up to 50 examples but 100",
    ),
    (
        "digit-class-12",
        None,
        ["train", "--data", "digits:12", "--out", "m.npz"],
        r"--data: digit classes must be in 0..9",
    ),
    (
        "data-width",
        None,
        ["train", "--circuit", "bars", "--data", "digits", "--out", "m.npz"],
        r"data digits: rows have 64 values but the circuit's input layer has 16",
    ),
    (
        "p-vertical-2",
        None,
        ["train", "--circuit", "nines", "--data", "bars", "--p-vertical", "2", "--out", "m.npz"],
        r"--p-vertical: must be a probability",
    ),
    ("out-suffix", None, ["train", "--out", "model.txt"], r"--out: model files end in \.npz"),
    (
        "rule-unknown",
        None,
        ["train", "--rule", "contrastive", "--out", "m.npz"],
        r"--rule: must be wake-sleep, wake-sleep:S .*'contrastive'",
    ),
    (
        "rule-on-spiking",
        None,
        ["train", "--engine", "spiking", "--rule", "reweighted:5", "--out", "m.npz"],
        r"--rule: reweighted:5 runs on the vectorised and brian2 engines; the spiking engine implements",
    ),
    (
        "rule-event-driven",
        None,
        ["train", "--rule", "reweighted:2", "--propagation", "event", "--out", "m.npz"],
        r"--propagation: the reweighted:2 rule needs summed propagation \(got 'event'\)",
    ),
    (
        "spiking-option-elsewhere",
        None,
        ["train", "--window", "2", "--out", "m.npz"],
        r"--window: applies to --engine spiking only \(got 2.0\)",
    ),
    (
        "spiking-window-off-grid",
        None,
        ["train", "--engine", "spiking", "--dt", "0.3", "--out", "m.npz"],
        r"--window: must be a whole number .* of steps of dt=0.3 ms",
    ),
    (
        "spiking-dt-above-window",
        None,
        ["train", "--engine", "spiking", "--dt", "5", "--out", "m.npz"],
        r"--dt: must be in \(0, window=1.0\] ms \(got 5.0\)",
    ),
    (
        "spiking-tau-nan",
        None,
        ["train", "--engine", "spiking", "--tau-syn", "nan", "--out", "m.npz"],
        r"--tau-syn: must be a finite number of ms",
    ),
    (
        "spiking-delay-off-grid",
        None,
        ["train", "--engine", "spiking", "--dt", "0.5", "--delay", "0.7", "--out", "m.npz"],
        r"--delay: must be a whole number of steps of dt=0.5 ms",
    ),
    (
        "spiking-settle-negative",
        None,
        ["train", "--engine", "spiking", "--settle", "-1", "--out", "m.npz"],
        r"--settle: must be in \[0, 1000.0\] ms \(got -1.0\)",
    ),
    (
        "spiking-window-huge",
        None,
        ["train", "--engine", "spiking", "--window", "1e9", "--out", "m.npz"],
        r"--window: must be in \(0, 1000.0\] ms",
    ),
    (
        "out-is-data",
        lambda d: rows_file(d, "rows.npz"),
        ["train", "--data", "rows.npz", "--out", "rows.npz"],
        r"output: would overwrite the input rows\.npz",
    ),
    (
        "history-is-data",
        lambda d: rows_file(d, "m.history.npz"),
        ["train", "--data", "m.history.npz", "--record-every", "100", "--examples", "200", "--out", "m.npz"],
        r"output: would overwrite the input m\.history\.npz",
    ),
    (
        "out-is-init",
        lambda d: model_file(d),
        ["train", "--init", "m.npz", "--examples", "100", "--out", "m.npz"],
        r"output: would overwrite the input m\.npz",
    ),
    (
        "out-is-a-folder",
        lambda d: os.mkdir(d / "dir.npz"),
        ["train", "--engine", "numpy", "--examples", "100", "--out", "dir.npz"],
        r"output: is a directory.*'dir\.npz'",
    ),
    (
        "out-under-dev-null",
        None,
        ["train", "--engine", "numpy", "--examples", "100", "--out", "/dev/null/m.npz"],
        r"output: is a device, not a file.*/dev/null/m\.npz",
    ),
    (
        "data-digits-prefix-missing",
        None,
        ["train", "--data", "digits_missing.csv", "--out", "m.npz"],
        r"data file digits_missing\.csv: does not exist",
    ),
    ("data-digits-bad-class", None, ["train", "--data", "digits:x", "--out", "m.npz"], r"--data: .*digits:x"),
    ("data-unknown-word", None, ["train", "--data", "stripes", "--out", "m.npz"], r"stripes"),
    ("examples-inf", None, ["train", "--examples", "inf", "--out", "m.npz"], r"--examples: .*inf"),
    ("examples-1e400", None, ["train", "--examples", "1e400", "--out", "m.npz"], r"--examples: .*1e400"),
    (
        "schedule-1e400",
        None,
        ["train", "--examples", "100", "--schedule", "wake:1e400", "--out", "m.npz"],
        r"schedule.*1e400",
    ),
    ("seed-negative", None, ["train", "--seed", "-1", "--out", "m.npz"], r"--seed: .*-1"),
    (
        "layer-1e9",
        lambda d: circuit_file(d, "big.toml", "layers = [16, 8, 1]", "layers = [16, 1000000000, 1]"),
        ["train", "--circuit", "big.toml", "--out", "m.npz"],
        r"big\.toml.*1000000000",
    ),
    (
        "layer-1e20",
        lambda d: circuit_file(d, "big.toml", "layers = [16, 8, 1]", "layers = [16, 100000000000000000000, 1]"),
        ["train", "--circuit", "big.toml", "--out", "m.npz"],
        r"big\.toml",
    ),
    (
        "npy-header-1e12-rows",
        lambda d: huge_npy(d, "huge.npy"),
        ["train", "--data", "huge.npy", "--out", "m.npz"],
        r"data file huge\.npy: holds an array of shape "
        r"\(1000000000000, 16\)",
    ),
    (
        "npz-header-1e12-rows",
        lambda d: huge_npz(d, "h.npz"),
        ["train", "--data", "h.npz", "--out", "m.npz"],
        r"data file h\.npz: holds an array of shape",
    ),
    (
        "data-values-2",
        lambda d: np.save(d / "two.npy", np.full((3, 16), 2)),
        ["train", "--data", "two.npy", "--out", "m.npz"],
        r"data file two\.npy: values must be 0 or 1 \(got \[2\.0\]\)",
    ),
    (
        "circuit-invalid-utf8",
        lambda d: bytes_file(d, "c.toml", b'name = "\xff\xfe"\nlayers = [16, 8, 1]\n'),
        ["train", "--circuit", "c.toml", "--out", "m.npz"],
        r"c\.toml",
    ),
    (
        "rates-1e300",
        lambda d: circuit_file(
            d, "hot.toml", "generative_weights = [0.2, 0.001]", "generative_weights = [1e300, 1e300]"
        ),
        [
            "train",
            "--circuit",
            "hot.toml",
            "--engine",
            "numpy",
            "--examples",
            "2000",
            "--chunk",
            "500",
            "-q",
            "--out",
            "m.npz",
        ],
        r"diverged: weights not finite or beyond",
    ),
    (
        "device-with-numpy-engine",
        None,
        ["train", "--engine", "numpy", "--device", "cython", "--out", "m.npz"],
        r"--device: .*numpy",
    ),
    (
        "complex-data",
        lambda d: np.save(d / "c.npy", np.ones((5, 16), dtype=complex)),
        ["train", "--data", "c.npy", "--out", "m.npz"],
        r"data file c\.npy: holds complex numbers",
    ),
    (
        "train-with-cache-on-a-file",
        lambda d: text_file(d, "afile", "x"),
        ["train", "--device", "cpp_standalone", "--examples", "100", "--out", "m.npz"],
        r"HM_NEURO_CACHE_DIR: is not a folder \(got 'afile'\)",
        ENV_FILE_CACHE,
    ),
    (
        "reweighted-too-big",
        lambda d: (
            np.save(d / "rows.npy", np.zeros((2, 784))),
            text_file(
                d,
                "big.toml",
                "layers = [784, 500, 10]\n[learning_rates]\n"
                "generative_weights = 0.01\nrecognition_weights = 0.01\n"
                "generative_biases = 0.01\nrecognition_biases = 0.01\n",
            ),
        ),
        [
            "train",
            "--circuit",
            "big.toml",
            "--data",
            "rows.npy",
            "--engine",
            "vectorised",
            "--rule",
            "reweighted:1000",
            "--seeds",
            "0:300",
            "--out",
            "m.npz",
        ],
        r"--rule: reweighted:1000 on layers \[784, 500, 10\] x 300 machine\(s\) needs 1\.1 GiB of uniforms per example",
    ),
    (
        "seed-with-seeds",
        None,
        ["train", "--seed", "5", "--seeds", "0:2", "--out", "m.npz"],
        r"--seed: trains one machine; --seeds 0:2 trains a population",
    ),
    (
        "window-0",
        None,
        ["train", "--engine", "spiking", "--window", "0", "--out", "m.npz"],
        r"--window: must be in \(0, 1000\.0\] ms \(got 0\.0\)",
    ),
    (
        "dynamics-window-0",
        lambda d: text_file(
            d,
            "c.toml",
            "layers = [4, 2]\n[learning_rates]\ngenerative_weights = 0.1\n"
            "recognition_weights = 0.1\ngenerative_biases = 0.1\n"
            "recognition_biases = 0.1\n[dynamics]\nwindow = 0\n",
        ),
        ["train", "--circuit", "c.toml", "--out", "m.npz"],
        r"c\.toml: dynamics\.window: must be in \(0, 1000\.0\] ms",
    ),
    (
        "schedule-empty",
        None,
        ["train", "--schedule", "", "--out", "m.npz"],
        r"--schedule: must not be empty \(got ''\)",
    ),
    ("circuit-empty", None, ["train", "--circuit", " ", "--out", "m.npz"], r"--circuit: must not be empty"),
    (
        "data-npz-random-bytes",
        lambda d: bytes_file(d, "r.npz", os.urandom(3000)),
        ["train", "--data", "r.npz", "--out", "m.npz"],
        r"data file r\.npz: is not an \.npz archive \(no zip header\)",
    ),
    (
        "data-npy-random-bytes",
        lambda d: bytes_file(d, "r.npy", os.urandom(3000)),
        ["train", "--data", "r.npy", "--out", "m.npz"],
        r"data file r\.npy: is not an \.npy file \(no NUMPY header\)",
    ),
    (
        "data-npy-bad-header",
        lambda d: bytes_file(d, "b.npy", npy_with_header(b"(2+3, 16)")),
        ["train", "--data", "b.npy", "--out", "m.npz"],
        r"data file b\.npy: has a malformed \.npy header",
    ),
]
