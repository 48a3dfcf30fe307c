"""Synapses of finite precision (hm_neuro.model.precision): the grids, the
two roundings, the engines held to the reference exactly with the same
stream, stochastic rounding unbiased by enumeration and on the circuit, and
bad settings refused with one line."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import backends
from helpers import per_layer_precision

import hm_neuro as hm
from hm_neuro.engines.brian2.device import compiler_available
from hm_neuro.engines.reference import sleep_phase, wake_phase
from hm_neuro.model import PARAMETER_SETS, PRESETS, Grid, Parameters, Precision, Rounding, Uniforms

needs_compiler = pytest.mark.skipif(not compiler_available(), reason="needs a C++ compiler")
BARS = hm.load_circuit("bars")
NEAREST = Precision(Grid(10, (-16, 16), "nearest"), Grid(10, (-16, 16), "nearest"), Grid(12, (-32, 32), "nearest"))
PER_LAYER = per_layer_precision()
SETTINGS = {"loihi": PRESETS["loihi"], "cortex": PRESETS["cortex"], "nearest": NEAREST, "per-layer": PER_LAYER}


def trained(precision, n=1000, seed=5, chunk=500, **options):
    circuit = BARS.replace(precision=precision)
    return hm.train(circuit, hm.BarsStream(), n, seed=seed, progress=False, chunk=chunk, **options).params


def on_grid(params, precision, circuit=BARS):
    """True if every parameter with a grid is a level of it, within its bounds."""
    for name, arrays in ((n, getattr(params, n)) for n in PARAMETER_SETS):
        for k, a in enumerate(arrays):
            grid = precision.grid(name, k)
            if grid is None:
                continue
            lo, hi = grid.bounds(name == "generative_weights" and circuit.nonnegative(k))
            if np.any(a < lo) or np.any(a > hi) or not np.allclose(a / grid.step, np.round(a / grid.step), atol=1e-9):
                return False
    return True


# ------------------------------------------------------------------ the grids


def test_a_grid_of_4_7_bits_has_26_levels_with_0_among_them():
    g = Grid(4.7, (-16, 16))
    assert g.levels == 26
    assert g.step == pytest.approx(32 / 25)
    lo, hi = g.bounds()
    assert round((hi - lo) / g.step) + 1 == 26 and lo <= 0 <= hi
    assert g.nearest(0.0) == 0.0 and g.nearest(100.0) == hi and g.nearest(-100.0) == lo
    assert g.bounds(nonnegative=True)[0] == 0.0


def test_a_shared_exponent_is_the_smallest_power_of_two_reaching_the_range():
    g = PRESETS["loihi"].generative
    assert g.step == 2.0**-3 and g.exponent == -3
    assert g.bounds() == (-16.0, 16.0 - 0.125)  # mantissas -128..127
    assert Grid(8, (0, 10), shared_exponent=True).bounds() == (0.0, 255 * 2.0**-4)


def test_nearest_rounding_loses_updates_below_half_a_step():
    g = Grid(4, (-8, 8), "nearest")
    w = np.zeros(3)
    assert np.array_equal(g.update(w, np.array([0.49, 0.51, -0.6]) * g.step), [0.0, g.step, -g.step])


def test_stochastic_rounding_is_unbiased_by_enumeration():
    """E_u[step * floor(x / step + u)] over u = (j + 1/2) / M, j = 0..M-1, is
    the exact value to step / M: the expected update is eq. 4/7's update."""
    g = Grid(4.7, (-16, 16), "stochastic")
    w = g.nearest(np.linspace(-10, 10, 11))
    dw = np.linspace(-0.9, 0.9, 11) * g.step
    M = 4096
    u = (np.arange(M)[:, None] + 0.5) / M
    mean = g.update(np.broadcast_to(w, (M, 11)), dw, np.broadcast_to(u, (M, 11))).mean(axis=0)
    assert np.max(np.abs(mean - (w + dw))) <= g.step / M
    assert np.array_equal(g.update(w, 0.0 * dw, np.full(11, 0.999999)), w)  # on a level: never moved


@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_a_grids_update_is_one_declared_equation_on_arrays_and_as_circuit_code(rounding):
    """The NumPy engines evaluate the grid's declared equation
    (``GRID_RULES``, in :meth:`Grid.update`) and the Brian2 circuits write the
    same equation as code with their own names: that code, evaluated on the
    same arrays, gives the same values bit for bit, and both are the
    rounding's definition (module docstring of ``hm_neuro.model.precision``)."""
    from hm_neuro.engines.brian2.code import delta_rule

    g = Grid(4.7, (-16, 16), rounding)
    rng = np.random.default_rng(3)
    w, dw, u = g.nearest(rng.normal(0, 8, 200)), rng.normal(0, 2, 200), rng.random(200)
    lo, hi = g.bounds(nonnegative=True)
    code = delta_rule("eps * d", True, rounding, "gen", "ARGS")
    assert code.startswith("w = ")
    grid = {"gen_step_post": g.step, "gen_inv_step_post": 1 / g.step, "gen_lo_post": lo, "gen_hi_post": hi}
    functions = {"clip": np.clip, "floor": np.floor, "stochastic_floor": lambda x, _: np.floor(x + u)}
    values = {"w": w, "eps": 1.0, "d": dw, "ARGS": None, **grid, **functions}
    circuit = eval(code[len("w = ") :], {"__builtins__": {}}, values)  # noqa: S307 - the code under test
    arrays = g.update(w, dw, u, nonnegative=True)
    definition = np.clip(g.step * np.floor((w + dw) / g.step + (0.5 if rounding == "nearest" else u)), lo, hi)
    assert np.array_equal(circuit, arrays)
    assert np.allclose(arrays, definition, rtol=0, atol=1e-12) and len(np.unique(arrays)) > 5


# ------------------------------------------------------------------ the engines, exactly


#: every engine held to the reference (conftest.backends, from the registry), each compiled
#: build and each engine on the spiking bridge in the default run for one setting only
ENGINES = backends(compiled=True, cython=True, event=True, reference=False)
#: the compiled builds and spiking runs of the default run (each setting and propagation is a
#: build of its own); the rest: -m slow
DEFAULT_RUNS = {
    ("loihi", "brian2-cpp"),
    ("nearest", "brian2-cpp-event"),
    ("per-layer", "brian2-cpp"),
    ("loihi", "spiking-numpy"),
}


def _engine_cases():
    for setting in sorted(SETTINGS):
        for o in ENGINES:
            late = ("cpp" in o.id or "spiking" in o.id) and (setting, o.id) not in DEFAULT_RUNS
            marks = [*o.marks] + ([pytest.mark.slow] if late else [])
            yield pytest.param(setting, o.values[0], marks=marks, id=f"{setting}-{o.id}")


@pytest.mark.parametrize("setting, options", list(_engine_cases()))
def test_every_engine_rounds_as_the_reference_does(setting, options):
    """Every engine (the spiking circuit at its bridge) puts every parameter
    where the reference does, with the same counter-based stream."""
    precision = SETTINGS[setting]
    n = 400 if options.get("device") == "numpy" else 1000
    reference = trained(precision, n, engine="numpy")
    assert on_grid(reference, precision)
    assert reference.max_abs_difference(trained(precision, n, **options)) <= 1e-12
    if precision.stochastic:  # another stream: other roundings
        assert reference.max_abs_difference(trained(precision, n, seed=6, engine="numpy")) > 0.01


@pytest.mark.parametrize("rule", ["reweighted:2", "wake-sleep:2"])
def test_the_rules_copies_round_alike_on_the_circuit_and_the_vectorised_engine(rule):
    kw = {"n": 300, "chunk": 300, "rule": rule}
    vectorised = trained(PRESETS["loihi"], engine="vectorised", **kw)
    assert vectorised.max_abs_difference(trained(PRESETS["loihi"], engine="brian2", device="numpy", **kw)) <= 1e-12
    assert on_grid(vectorised, PRESETS["loihi"])


# ------------------------------------------------------------------ in expectation


def _one_update(precision):
    """A trained state put on the grids, one example's data and sampling
    numbers, and the expected parameters after the example's wake phase
    alone and after its sleep phase alone: eq. 4's (eq. 7's) exact update
    from that state, clipped to the grids' bounds (stochastic rounding
    between two levels is unbiased; beyond the ends it saturates).  The
    phases are apart because the fantasy depends on how the wake phase's
    update was rounded."""
    circuit = BARS.replace(precision=precision)

    def clipped(params):  # each entry within its grid's bounds
        out = params.copy()
        for name, arrays in ((n, getattr(out, n)) for n in PARAMETER_SETS):
            grid = precision.grid(name)
            for k, a in enumerate(arrays):
                arrays[k] = np.clip(a, *grid.bounds(name == "generative_weights" and BARS.nonnegative(k)))
        return out

    start = trained(None, 3000, engine="numpy").on_grid(circuit)
    data = np.asarray(hm.BarsStream().take(1, np.random.default_rng(1)), dtype=float)
    u = Uniforms.draw(circuit, 1, np.random.default_rng(2))
    woken, slept = start.copy(), start.copy()
    wake_phase(woken, BARS, data[0], [a[0] for a in u.wake])
    sleep_phase(slept, BARS, [a[0] for a in u.sleep])
    return start, {"wake": clipped(woken), "sleep": clipped(slept)}, data, u, circuit


def _assert_mean_is(samples, expected, step):
    """Each entry's M roundings land on the two levels around its expected
    value with binomial probabilities: an expected value on a level is met
    every time, the others within 4.5 binomial standard errors (and their
    mean z within 4 / sqrt(n) of 0)."""
    M = len(samples)
    f = expected / step - np.floor(expected / step)
    on_level = (f < 1e-9) | (f > 1 - 1e-9)
    assert np.allclose(samples[:, on_level], expected[on_level], atol=1e-12)
    se = step * np.sqrt(f * (1 - f) / M)
    z = (samples.mean(axis=0) - expected)[~on_level] / se[~on_level]
    assert (~on_level).sum() > 10 and np.max(np.abs(z)) < 4.5 and abs(z.mean()) < 4 / np.sqrt(len(z))


def _flat(params):
    return np.concatenate([a.ravel() for a in params.arrays().values()])


def _steps(params, precision):
    return np.concatenate(
        [np.full(a.size, precision.grid(name.rsplit("_", 1)[0]).step) for name, a in params.arrays().items()]
    )


PRECISION = Precision.uniform(4, "stochastic", (-16, 16))


@pytest.mark.parametrize("phase", ["wake", "sleep"])
def test_stochastic_rounding_of_a_machines_update_is_unbiased_on_the_reference(phase):
    start, expected, data, u, circuit = _one_update(PRECISION)
    after = []
    for key in range(2000):
        p = start.copy()
        r = Rounding(PRECISION, key, 0)
        if phase == "wake":
            wake_phase(p, circuit, data[0], [a[0] for a in u.wake], rounding=r)
        else:
            sleep_phase(p, circuit, [a[0] for a in u.sleep], rounding=r)
        after.append(_flat(p))
    _assert_mean_is(np.array(after), _flat(expected[phase]), _steps(start, PRECISION))


@pytest.mark.parametrize("options", backends("brian2", compiled=True, without="spiking"))
def test_stochastic_rounding_is_unbiased_on_the_circuit(options):
    """400 machines of the same state and sampling numbers, each with its own
    rounding stream, one example learning in one phase (the other's gate at
    0): their mean is eq. 4's (eq. 7's) update."""
    start, expected, data, u, circuit = _one_update(PRECISION)
    N, on, off = 400, np.ones(1), np.zeros(1)
    with hm.make_engine(circuit, n_machines=N, **options, chunk=1, external_uniforms=True) as eng:
        for phase, gates in (("wake", (on, off)), ("sleep", (off, on))):
            out, _ = eng.run_population(
                [start] * N, [data] * N, list(range(N)), [gates[0]] * N, [gates[1]] * N, uniforms=[u] * N
            )
            _assert_mean_is(np.array([_flat(p) for p in out]), _flat(expected[phase]), _steps(start, PRECISION))


# ------------------------------------------------------------------ declarations and bad settings


def test_a_circuits_precision_round_trips_through_its_table():
    for precision in (PRESETS["loihi"], NEAREST, Precision.uniform(4.7, "stochastic")):
        c = BARS.replace(precision=precision)
        assert hm.Circuit.from_dict(c.to_dict()).precision == precision
    assert BARS.replace(precision="loihi").to_dict()["precision"] == "loihi"
    assert "precision" not in BARS.to_dict()
    initial = Parameters.initial(BARS.replace(precision="cortex"))
    assert on_grid(initial, PRESETS["cortex"])


BAD = [
    ({"bits": 0}, r"precision\.generative\.bits: must be a number in 1\.\.32 \(got 0\)"),
    ({"bits": 65}, r"bits: must be a number in 1\.\.32 \(got 65\)"),
    ({"bits": -3}, r"bits: must be a number in 1\.\.32 \(got -3\)"),
    ({"bits": math.nan}, r"bits: must be a number in 1\.\.32 \(got nan\)"),
    ({"bits": 8, "range": [1, 1]}, r"precision\.generative\.range: min must be below max \(got \[1, 1\]\)"),
    ({"bits": 8, "range": [2, -2]}, r"range: min must be below max"),
    ({"bits": 8, "rounding": "up"}, r"precision\.generative\.rounding: must be one of .* \(got 'up'\)"),
    ({"bits": 8, "bias": 1}, r"precision\.generative\.bias: unknown key"),
    ({"bits": 4.5, "shared_exponent": True}, r"bits: a shared exponent needs a whole number"),
    ({"range": [-1, 1]}, r"precision\.generative\.bits: missing key"),
    ({"bits": 8, "range": [-1e308, 1e308]}, r"precision\.generative\.range: gives a step of inf between levels"),
    ({"bits": 8, "range": [0, 1e-320]}, r"precision\.generative\.range: gives a step of 4e-323 between levels"),
    (
        {"bits": 8, "range": [0, 5e-324], "shared_exponent": True},
        r"precision\.generative\.range: is too small for 8 mantissa bits: no power-of-two step reaches it",
    ),
    ({"bits": 8, "range": [2, 3]}, r"precision\.generative\.range: must contain 0 .* \(got \[2, 3\]\)"),
    ({"bits": 8, "range": [-3, -2]}, r"precision\.generative\.range: must contain 0"),
]


@pytest.mark.parametrize("table, message", BAD, ids=[str(t) for t, _ in BAD])
def test_bad_settings_are_refused_naming_the_key_and_value(table, message):
    with pytest.raises(hm.HMError, match=message):
        hm.Circuit.from_dict({**BARS.to_dict(), "precision": {"generative": table}})


@pytest.mark.parametrize(
    "args, message",
    [
        ((8, (-1e308, 1e308)), r"range: gives a step of inf"),
        ((8, (0, 5e-324), "stochastic", True), r"range: is too small for 8 mantissa bits"),
        ((8, (2, 3)), r"range: must contain 0"),
    ],
)
def test_a_grid_that_cannot_be_represented_is_refused_in_python(args, message):
    """Before: ``hm.Grid(8, (-1e308, 1e308)).update(...)`` returned NaN and
    ``.step`` with a shared exponent raised "math domain error"."""
    with pytest.raises(hm.HMError, match=message):
        hm.Grid(*args)


def test_an_unknown_preset_and_a_population_of_two_precisions_are_refused():
    unknown = r"precision: unknown preset; expected one of \['cortex', 'float64', 'loihi'\]"
    with pytest.raises(hm.HMError, match=unknown):
        BARS.replace(precision="truenorth")
    with (
        hm.make_engine(BARS.replace(precision="loihi"), "vectorised") as eng,
        pytest.raises(hm.HMError, match="circuit: this engine is for the precision loihi"),
    ):
        eng.retarget(BARS)
    with pytest.raises(hm.HMError, match="rng: stochastic rounding .* use rng='philox'"):
        hm.make_engine(BARS.replace(precision="loihi"), "numpy", rng="mt19937")


@pytest.mark.parametrize(
    "text, message",
    [
        ("[precision.generative]\nbits = 0\n", "precision.generative.bits: must be a number in 1..32 (got 0)"),
        ("[precision.recognition]\nbits = 65\n", "precision.recognition.bits: must be a number in 1..32 (got 65)"),
        ("[precision.biases]\nbits = 8\nrange = [3, 3]\n", "precision.biases.range: min must be below max"),
        ("[precision.generative]\nbits = 8\nrounding = 'round'\n", "precision.generative.rounding: must be one of"),
        ("precision = 'tpu'\n", "precision: unknown preset"),
    ],
)
def test_the_command_line_refuses_a_bad_precision_table_with_one_line(tmp_path, text, message):
    bars = (Path(hm.__file__).parent / "circuits" / "bars.toml").read_text()
    first_table = bars.index("[learning_rates]")
    circuit = tmp_path / "bad.toml"
    circuit.write_text(bars[:first_table] + text + "\n" + bars[first_table:])
    out = tmp_path / "model.npz"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "hm_neuro.cli",
            "train",
            "--circuit",
            str(circuit),
            "--examples",
            "100",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not out.exists()


def test_train_takes_a_preset_and_says_when_an_init_model_had_another_precision(tmp_path):
    from hm_neuro.files.model_io import load_model

    def train(*args):
        cmd = [sys.executable, "-m", "hm_neuro.cli", "train", "--engine", "vectorised", "--examples", "300", *args]
        return subprocess.run(cmd, capture_output=True, text=True)

    assert train("--precision", "loihi", "--out", str(tmp_path / "l.npz")).returncode == 0
    params, circuit, _ = load_model(tmp_path / "l.npz")
    assert circuit.precision == PRESETS["loihi"] and on_grid(params, PRESETS["loihi"])
    r = train("--init", str(tmp_path / "l.npz"), "--out", str(tmp_path / "f.npz"))
    assert r.returncode == 0
    assert f"note: {tmp_path / 'l.npz'} was trained with precision loihi; training continues with float64" in r.stderr
    r = train("--init", str(tmp_path / "f.npz"), "--precision", "cortex", "--out", str(tmp_path / "c.npz"))
    assert "training continues with cortex (its parameters put on the grid)" in r.stderr
    assert on_grid(load_model(tmp_path / "c.npz")[0], PRESETS["cortex"])
