"""Bad input to ``hm-neuro reproduce``: experiments, settings, results read back (id, setup writing
the inputs into the folder or None, arguments, stderr pattern[, environment])."""

import json

from .writers import results_file, text_file

REPRODUCE = [
    ("unknown-experiment", None, ["reproduce", "nope"], r"reproduce: unknown experiment; choose one of \[.*'bars'"),
    (
        "restarts-digits",
        None,
        ["reproduce", "digits", "--restarts", "2"],
        r"--restarts: does not apply to the digits experiment",
    ),
    ("unknown-reading", None, ["reproduce", "bars", "--reading", "all"], r"--reading: must be one of \['connections'"),
    ("rule-k-0", None, ["reproduce", "bars", "--rule", "reweighted:0"], r"--rule: K of reweighted:K must be in"),
    (
        "spiking-setting-unknown",
        None,
        ["reproduce", "spiking", "--settings", "tau_syn=9ms"],
        r"--settings: must be among \[.*\] \(got 'tau_syn=9ms'\)",
    ),
    (
        "settings-on-bars",
        None,
        ["reproduce", "bars", "--settings", "bridge"],
        r"--settings: does not apply to the bars experiment",
    ),
    ("seeds-0", None, ["reproduce", "bars", "--seeds", "0"], r"--seeds: must be in 1..10000 \(got 0\)"),
    (
        "reproduce-out-is-a-file",
        lambda d: text_file(d, "afile", "keep me"),
        ["reproduce", "nines", "--quick", "--engine", "numpy", "--out", "afile"],
        r"--out: is a file; give a folder for the results \(got 'afile'\)",
    ),
    (
        "reproduce-out-under-dev-null",
        None,
        ["reproduce", "bars", "--quick", "--out", "/dev/null/x"],
        r"--out: is a device",
    ),
    (
        "rules-results-a-list",
        lambda d: results_file(d, "[1, 2]"),
        ["reproduce", "rules", "--quick", "--out", "res"],
        r"results file res/bars_restarts1_seeds4_quick\.json: is not a bars results file .*--fresh \(got 'list'\)",
    ),
    (
        "rules-results-not-json",
        lambda d: results_file(d, "{runs: "),
        ["reproduce", "rules", "--quick", "--out", "res"],
        r"results file res/bars_restarts1_seeds4_quick\.json: cannot be read as JSON",
    ),
    (
        "rules-results-run-without-kl",
        lambda d: results_file(d, json.dumps({"runs": [{"status": "ok"}], "engine": "x"})),
        ["reproduce", "rules", "--quick", "--out", "res"],
        r"run 0 is not a bars result",
    ),
    (
        "settings-commas",
        None,
        ["reproduce", "spiking", "--quick", "--settings", ","],
        r"--settings: names no setting \(got ','\)",
    ),
]
