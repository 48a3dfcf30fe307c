"""The numbers the README and the results pages quote are read from the
JSON their command wrote: a re-run that changes a JSON fails here until every
page quoting it is updated (a page cannot go stale)."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def js(name):
    return json.loads((ROOT / "figures" / name).read_text())


def row(name, setting):
    return next(r for r in js(name)["rows"] if r.get("setting", r.get("rule")) == setting)


def pct(x):
    return f"{100 * x:.1f} %"


def rules_row(rule):
    r = next(r for r in js("rules.json")["rows"] if r["rule"] == rule)
    return f"| {r['seeds_reaching_paper_kl']} | {r['median_kl_data_model_bits']:.3f} | {r['median_kl_q_p_bits']:.3f} |"


PER_LAYER_ROWS = ("float64", "4.7-bit stochastic", "4.7-bit per-layer stochastic")


def per_layer_row(setting):
    r = row("precision_per-layer.json", setting)
    lo, hi = (100 * x for x in r["success_rate_interval_95"])
    return f"| {r['seeds_reaching_paper_kl']} | {lo:.0f}-{hi:.0f} % |"


HIDDEN_STATE_ROWS = ("float64", "4.7-bit per-layer", "8-bit hidden", "12-bit hidden", "float64 hidden", "4 contacts")


def hs(setting):
    return row("precision_hidden-state.json", setting)


def profile_row(which: str, label: str) -> str:
    """A row of docs/performance.md's table of benchmarks/profile.json."""
    d = json.loads((ROOT / "benchmarks" / "profile.json").read_text())
    us = d["microseconds_per_machine_example"][which]
    ratio = "" if which == "before" else f" ({d['after_relative_to_before']:.2f}x)"
    return f"| {label} | {us:.2f}{ratio} | {sum(d['profile_seconds'][which].values()):.2f} |"


def hidden_state_row(setting):
    r = row("precision_hidden-state.json", setting)
    lo, hi = (100 * x for x in r["success_rate_interval_95"])
    p = r.get("fisher_p_against_float64")
    kls = r["kl_data_model_bits"]
    return (
        f"| {setting} | {r['state_bits_per_synapse']:g} | {r['seeds_reaching_paper_kl']} | {lo:.0f}-{hi:.0f} % | "
        f"{'—' if p is None else f'{p:.2g}'} | {r['median_kl_data_model_bits']:.3f} | {min(kls):.3f} |"
    )


def mechanism_row(name, setting):
    """A row of the 40-seed tables of issue 36's second step: the hidden-state
    row and the failure modes of the runs (cross, top layer, bars missing)."""
    r = row(name, setting)
    lo, hi = (100 * x for x in r["success_rate_interval_95"])
    p = r.get("fisher_p_against_float64")
    f = r["failure_modes"]
    return (
        f"| {setting} | {r['state_bits_per_synapse']:g} | {r['seeds_reaching_paper_kl']} | {lo:.0f}-{hi:.0f} % | "
        f"{'—' if p is None else f'{p:.2g}'} | {r['median_kl_data_model_bits']:.3f} | "
        f"{min(r['kl_data_model_bits']):.3f} | {f['cross']} / {f['every bar, top layer wrong']} / {f['bars missing']} |"
    )


MECHANISM_ROWS = [
    ("precision_mechanisms.json", s)
    for s in (
        "float64",
        "Benna-Fusi 8 bits",
        "Benna-Fusi 12 bits",
        "2 contacts",
        "8 contacts",
        "4.7-bit per-layer, rates x0.1",
        "4.7-bit per-layer, rates x5",
    )
] + [("precision_threshold.json", f"{b}-bit stochastic") for b in (8, 9, 10, 11)]


def digits_hidden():
    e = js("precision_digits.json")["digits_error"]
    return (
        f"float64 {100 * e['float64']:.1f} %, 4.7 bits {100 * e['4.7-bit stochastic']:.1f} %, "
        f"**26 levels with an 8-bit hidden value {100 * e['8-bit hidden, 26 levels']:.1f} %**, "
        f"8 bits {100 * e['8-bit stochastic']:.1f} %"
    )


LATERAL_ROWS = ("factorial", "recognition", "recognition-fast", "generative", "both")


def lat(setting):
    return row("lateral.json", setting)


def lateral_row(setting):
    r = lat(setting)
    lo, hi = (100 * x for x in r["success_rate_interval_95"])
    p = r.get("fisher_p_against_factorial")
    return (
        f"| {setting} | {r['seeds_reaching_paper_kl']}/{r['seeds']} | {lo:.0f}-{hi:.0f} % | "
        f"{'—' if p is None else f'{p:.2g}'} | {r['median_kl_data_model_bits']:.3f} | {r['median_kl_q_p_bits']:.3f} | "
        f"{r['median_units_coding_one_bar']:g} | {len(r['failures'])} ({r['failures_with_a_cross']}) |"
    )


def pct_range(r):
    lo, hi = (100 * x for x in r["success_rate_interval_95"])
    return f"{lo:.0f}-{hi:.0f} %"


def reading(setting, key, digits=1):
    return f"{lat(setting)['median_lateral_reading'][key]:+.{digits}f}"


def upper_row(setting):
    r = row("lateral_factorial-upper-fast-both-upper-fast.json", setting)
    return (
        f"| {setting} | {r['seeds_reaching_paper_kl']}/{r['seeds']} | {pct_range(r)} | "
        f"{r['median_kl_data_model_bits']:.3f} | {r['median_kl_q_p_bits']:.3f} | "
        f"{r['median_units_coding_one_bar']:g} | {len(r['failures'])} ({r['failures_with_a_cross']}) |"
    )


def reweighted_rows():
    """The K = 5 table: the factorial row from the bars experiment's JSON
    (the same machines, tests/test_lateral.py), the lateral one from its own."""
    from hm_neuro.experiments.rates import wilson_interval

    b = js("bars_reweighted5_restarts1_seeds40.json")
    assert b["restarts"] == 1 and b["seeds"] == 40 and b["reading"] == "connections"
    k, n = b["single_runs_reaching_paper_kl"], b["single_runs"]
    lo, hi = (100 * x for x in wilson_interval(k, n))
    factorial = (
        f"| factorial | {k}/{n} | {lo:.0f}-{hi:.0f} % | {b['median_kl_data_model_bits']:.3f} | "
        f"{b['median_kl_q_p_bits']:.3f} | {n - k} |"
    )
    r = row("lateral_reweighted5_recognition-fast.json", "recognition-fast")
    lateral = (
        f"| recognition-fast | {r['seeds_reaching_paper_kl']}/{r['seeds']} | {pct_range(r)} | "
        f"{r['median_kl_data_model_bits']:.3f} | {r['median_kl_q_p_bits']:.3f} | "
        f"{len(r['failures'])} ({r['failures_with_a_cross']}) |"
    )
    return factorial + "\n" + lateral


def reweighted_text():
    from hm_neuro.experiments.rates import fisher_exact_p

    b = js("bars_reweighted5_restarts1_seeds40.json")
    r = row("lateral_reweighted5_recognition-fast.json", "recognition-fast")
    k, n = b["single_runs_reaching_paper_kl"], b["single_runs"]
    p = fisher_exact_p(r["seeds_reaching_paper_kl"], r["seeds"], k, n)
    reading = r["median_lateral_reading"]
    return (
        f"cut the penalty tenfold, {b['median_kl_q_p_bits']:.3f} → **{r['median_kl_q_p_bits']:.3f} bits**, and again "
        "learn the\norientation (median weight between units of different orientations "
        f"{reading['recognition_other_orientation']:.1f},\nof one orientation "
        f"{reading['recognition_same_orientation']:+.1f}), but do not raise the success rate: "
        f"{r['seeds_reaching_paper_kl']}/40 against\n{k}/40 (Fisher p = {p:.2f}), and "
        f"{r['failures_with_a_cross']} of the {len(r['failures'])} failures still hold a cross unit."
    )


def readme_reweighted():
    r = row("lateral_reweighted5_recognition-fast.json", "recognition-fast")
    k = js("bars_reweighted5_restarts1_seeds40.json")["single_runs_reaching_paper_kl"]
    return (
        f"with reweighted K = 5, recognition lateral {r['seeds_reaching_paper_kl']}/40 against the factorial "
        f"{k}/40, KL(Q‖P) {r['median_kl_q_p_bits']:.3f} bits"
    )


#: (page, the text it must contain, made from the JSON)
CLAIMS = [
    ("docs/results/lateral.md", reweighted_rows),
    ("docs/results/lateral.md", reweighted_text),
    ("README.md", lambda: readme_reweighted()),
    *[("docs/results/lateral.md", lambda s=s: upper_row(s)) for s in ("factorial-upper-fast", "both-upper-fast")],
    *[("docs/results/lateral.md", lambda s=s: lateral_row(s)) for s in LATERAL_ROWS],
    (
        "README.md",
        lambda: (
            f"recognition lateral at 0.2: **{lat('recognition-fast')['seeds_reaching_paper_kl']}/40** ≤ 0.10 "
            f"({pct_range(lat('recognition-fast'))}) against the factorial "
            f"{lat('factorial')['seeds_reaching_paper_kl']}/40 "
            f"(p = {lat('recognition-fast')['fisher_p_against_factorial']:.2f}), median KL(Q‖P) "
            f"{lat('factorial')['median_kl_q_p_bits']:.3f} → **{lat('recognition-fast')['median_kl_q_p_bits']:.3f} "
            f"bits**; input generative lateral: {lat('generative')['seeds_reaching_paper_kl']}/40, but with "
            f"{'no' if lat('generative')['median_units_coding_one_bar'] == 0 else 'some'} hidden unit coding a bar"
        ),
    ),
    (
        "docs/results/lateral.md",
        lambda: (
            f"median penalty falls from {lat('factorial')['median_kl_q_p_bits']:.3f} to "
            f"**{lat('recognition-fast')['median_kl_q_p_bits']:.3f}\nbits**"
        ),
    ),
    (
        "docs/results/lateral.md",
        lambda: (
            f"the median weight is {reading('recognition-fast', 'recognition_other_orientation').lstrip('+')}, "
            f"between units of\none orientation {reading('recognition-fast', 'recognition_same_orientation')} "
            f"(at 0.001: {reading('recognition', 'recognition_other_orientation', 2)} and "
            f"{reading('recognition', 'recognition_same_orientation', 2)})"
        ),
    ),
    (
        "docs/results/lateral.md",
        lambda: (
            f"recognition-fast reaches {lat('recognition-fast')['seeds_reaching_paper_kl']}/40 against\n"
            f"the factorial {lat('factorial')['seeds_reaching_paper_kl']}/40 (Fisher p = "
            f"{lat('recognition-fast')['fisher_p_against_factorial']:.2f}), recognition at 0.001 "
            f"{lat('recognition')['seeds_reaching_paper_kl']}/40"
        ),
    ),
    (
        "docs/results/lateral.md",
        lambda: (
            f"({lat('recognition-fast')['failures_with_a_cross']} of {len(lat('recognition-fast')['failures'])}, "
            f"and {lat('recognition')['failures_with_a_cross']} of {len(lat('recognition')['failures'])}, hold a\n"
            "cross unit)"
        ),
    ),
    (
        "docs/results/lateral.md",
        lambda: (
            f"0.10 bits ({lat('generative')['seeds_reaching_paper_kl']}/40, median "
            f"{lat('generative')['median_kl_data_model_bits']:.3f})"
        ),
    ),
    (
        "docs/results/lateral.md",
        lambda: (
            f"weights between pixels of one column {reading('generative', 'generative_same_column')}, of one row "
            f"{reading('generative', 'generative_same_row')},\nof neither {reading('generative', 'generative_neither')}"
        ),
    ),
    *[("docs/results/precision.md", lambda s=s: hidden_state_row(s)) for s in HIDDEN_STATE_ROWS],
    ("docs/performance.md", lambda: profile_row("before", "before (hand-written rule)")),
    ("docs/performance.md", lambda: profile_row("after", "after (the papers' rule as its declaration)")),
    (
        "README.md",
        lambda: (
            f"**{hs('8-bit hidden')['seeds_reaching_paper_kl']}/40** ≤ 0.10 "
            f"(52-80 %) against float64's {hs('float64')['seeds_reaching_paper_kl']}/40 "
            f"(Fisher p = {hs('8-bit hidden')['fisher_p_against_float64']:.2f}); "
            f"12-bit {hs('12-bit hidden')['seeds_reaching_paper_kl']}/40; "
            f"4 contacts of 26 levels {hs('4 contacts')['seeds_reaching_paper_kl']}/40"
        ),
    ),
    (
        "README.md",
        lambda: (
            f"median {js('bars.json')['median_kl_data_model_bits']:.3f} bits, "
            f"**{js('bars.json')['seeds_reaching_paper_kl']}/10 seeds"
        ),
    ),
    (
        "README.md",
        lambda: (
            f"median {js('bars_restarts1_seeds40.json')['median_kl_data_model_bits']:.3f} bits, "
            f"{js('bars_restarts1_seeds40.json')['seeds_reaching_paper_kl']}/40 seeds"
        ),
    ),
    ("README.md", lambda: f"| {js('bars.json')['kl_q_p_bits_of_best']:.3f} bits |"),
    (
        "README.md",
        lambda: (
            f"| {pct(js('digits.json')['error_helmholtz'])} "
            f"(nearest neighbour {pct(js('digits.json')['error_nearest_neighbour'])}, "
            f"backprop {pct(js('digits.json')['error_backprop'])})"
        ),
    ),
    ("README.md", lambda: f"{js('bars_reweighted5_seeds20.json')['seeds_reaching_paper_kl']}/20 seeds"),
    ("README.md", lambda: f"**12 bits** ({row('precision.json', '12-bit stochastic')['seeds_reaching_paper_kl']}/10"),
    (
        "README.md",
        lambda: (
            f"8 bits {row('precision.json', '8-bit stochastic')['seeds_reaching_paper_kl']}/10, "
            f"`loihi` grid {row('precision.json', 'loihi')['seeds_reaching_paper_kl']}/10"
        ),
    ),
    (
        "README.md",
        lambda: f"**8 bits** ({row('precision_reweighted5.json', '8-bit stochastic')['seeds_reaching_paper_kl']}/10)",
    ),
    (
        "README.md",
        lambda: (
            f"(median {row('precision.json', '4.7-bit stochastic')['median_kl_data_model_bits']:.2f} / "
            f"{row('precision_reweighted5.json', '4.7-bit stochastic')['median_kl_data_model_bits']:.2f} bits)"
        ),
    ),
    (  # the digits rows of the precision runs are the digits runs' own JSONs
        "README.md",
        lambda: (
            f"4.7 bits {100 * js('digits_4.7-bit-stochastic.json')['error_helmholtz']:.1f} %, "
            f"**26 levels with an 8-bit hidden value "
            f"{100 * js('digits_8-bit-hidden-value-26-levels-expressed.json')['error_helmholtz']:.1f} %**, "
            f"8 bits {100 * js('digits_8-bit-stochastic.json')['error_helmholtz']:.1f} %"
        ),
    ),
    ("README.md", lambda: f"{js('bars_spiking.json')['seeds_reaching_paper_kl']}/10 |"),
    (
        "docs/results/bars.md",
        lambda: (
            f"| {js('bars_restarts1_seeds40.json')['median_kl_data_model_bits']:.3f} | "
            f"{js('bars_restarts1_seeds40.json')['best_kl_data_model_bits']:.3f} | "
            f"{js('bars_restarts1_seeds40.json')['seeds_reaching_paper_kl']} / 40 |"
        ),
    ),
    ("docs/results/bars.md", lambda: f"**{js('bars_restarts1_seeds40.json')['seeds_reaching_paper_kl']} of 40 seeds"),
    ("docs/results/bars.md", lambda: f"**{js('bars_seeds20.json')['seeds_reaching_paper_kl']} of 20 seeds"),
    (
        "docs/results/bars.md",
        lambda: "(seed {}, restart {}: KL {:.3f} bits)".format(
            *js("bars_seeds20.json")["figures_run_seed"].split("/restart="),
            next(
                r
                for r in js("bars_seeds20.json")["runs"]
                if r["run_seed"] == js("bars_seeds20.json")["figures_run_seed"]
            )["kl_data_model_bits"],
        ),
    ),
    (
        "docs/results/bars.md",
        lambda: "≥ {:.2f} bits".format(
            min(
                r["training_free_energy_bits"]
                for r in js("bars_restarts1_seeds40.json")["runs"]
                if 0.5 < r["kl_data_model_bits"]
            )
        ),
    ),
    *[
        ("docs/results/rules.md", lambda rule=rule: rules_row(rule))
        for rule in ("wake-sleep", "wake-sleep:4", "reweighted:2")
    ],
    (
        "docs/results/rules.md",
        lambda: f"gives {js('bars_seeds20.json')['seeds_reaching_paper_kl']}/20 seeds with the papers' rule",
    ),
    (
        "docs/results/spiking.md",
        lambda: f"(the binary machine: {js('bars_restarts1_seeds40.json')['seeds_reaching_paper_kl']}/40)",
    ),
    *[("docs/results/precision.md", lambda setting=setting: per_layer_row(setting)) for setting in PER_LAYER_ROWS],
    *[("docs/results/precision.md", lambda n=n, s=s: mechanism_row(n, s)) for n, s in MECHANISM_ROWS],
    ("docs/results/precision.md", digits_hidden),
    ("README.md", digits_hidden),
    (
        "README.md",
        lambda: "**{}/40** ≤ 0.10 (95 % interval {:.0f}-{:.0f} %) against float64's {}/40".format(
            row("precision_per-layer.json", "4.7-bit per-layer stochastic")["seeds_reaching_paper_kl"],
            *[
                100 * x
                for x in row("precision_per-layer.json", "4.7-bit per-layer stochastic")["success_rate_interval_95"]
            ],
            row("precision_per-layer.json", "float64")["seeds_reaching_paper_kl"],
        ),
    ),
    (
        "docs/results/precision.md",
        lambda: (
            f"(p = {row('precision_per-layer.json', '4.7-bit per-layer stochastic')['fisher_p_against_float64']:.1e})"
        ),
    ),
]


@pytest.mark.parametrize("page, claim", CLAIMS, ids=[f"{p}-{i}" for i, (p, _) in enumerate(CLAIMS)])
def test_a_published_number_equals_its_json(page, claim):
    text = (ROOT / page).read_text(encoding="utf-8")
    expected = claim()
    assert expected in text, f"{page} does not say {expected!r}"


def test_rules_json_is_made_from_its_sources():
    """figures/rules.json's rows are its source JSONs' numbers (re-made by
    ``hm-neuro reproduce rules``, which re-uses the stored sources)."""
    for r in js("rules.json")["rows"]:
        source = json.loads((ROOT / r["source"]).read_text())
        assert r["seeds_reaching_paper_kl"] == source["seeds_reaching_paper_kl"], r["rule"]
        assert r["median_kl_data_model_bits"] == pytest.approx(source["median_kl_data_model_bits"], abs=1e-12)


def test_every_quoted_bars_median_in_the_readme_has_a_json():
    """No "median 0.0xx bits" in the README that no JSON gives (to 3 decimals)."""
    medians = {
        f"{json.loads(p.read_text()).get('median_kl_data_model_bits', -1):.3f}"
        for p in (ROOT / "figures").glob("*.json")
    }
    quoted = re.findall(r"median (0\.\d{3}) bits", (ROOT / "README.md").read_text())
    assert quoted and set(quoted) <= medians, set(quoted) - medians


def test_the_lateral_tables_factorial_row_is_the_published_40_seed_table():
    """docs/results/lateral.md: the factorial row, run again by reproduce lateral,
    is the 40-seed single-run table seed by seed, to the last bit."""
    factorial = lat("factorial")
    published = {r["seed"]: r["kl_data_model_bits"] for r in js("bars_restarts1_seeds40.json")["runs"]}
    assert len(factorial["seeds_of_kl"]) == 40
    assert [published[s] for s in factorial["seeds_of_kl"]] == factorial["kl_data_model_bits"]
