"""The equivalence suite, shipped: the Brian2 circuit held to the NumPy
reference on *this* installation's Brian2, compiler and devices
(``hm-neuro check``, ``hm_neuro.test()``).

Two kinds of check, the same the repository's tests run:

exact
    Fed the same pre-drawn uniform numbers, the Brian2 circuit and the
    reference (:mod:`hm_neuro.engines.reference`) draw the same samples and
    learn the same weights (to 1e-12) over wake-sleep, wake-only,
    sleep-only and frozen epochs -- in float64 and (not ``quick``) with the
    ``loihi`` preset's finite-precision synapses, stochastic rounding
    drawn from the machine's stream (:mod:`hm_neuro.model.precision`).
expectation
    With the circuit's own random numbers, the mean update of M single wake
    (sleep) phases equals the expectation of eq. 4 (eq. 7) computed by
    enumerating every hidden state (every fantasy), within 4.5 standard
    errors.

Both are also run with a declared plasticity (:data:`DECLARED`,
:mod:`hm_neuro.model.plasticity`): the exact check in every run, the
expectation (not ``quick``) by enumerating the declared rule -- and (not
``quick``) with a synapse with state (:data:`STATEFUL`): exact, and one
example's mean of every weight, bias and state variable over a population
against every sample forced through the reference
(:func:`example_expectation_check`).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from .engines import capabilities, make_engine
from .engines.reference import train as reference_train
from .measures import hidden_states
from .model import (
    NO_PERTURBATION,
    Circuit,
    Parameters,
    Plasticity,
    Rounding,
    Uniforms,
    generative_logits,
    load_circuit,
    log_joint,
    log_recognition,
    recognition_logits,
    sigmoid,
)
from .training.schedules import Epoch, schedule_gates

#: a schedule that exercises every kind of epoch
SCHEDULE = [Epoch(1200, "wake-sleep"), Epoch(300, "wake"), Epoch(300, "sleep"), Epoch(200, "frozen")]
EXACT_TOLERANCE = 1e-12
EXPECTATION_SE = 4.5


def random_parameters(circuit: Circuit, rng: np.random.Generator, scale: float = 1.0) -> Parameters:
    """Non-trivial parameters; constrained sets made >= 0."""
    p = Parameters.initial(circuit)
    for arrs in (p.generative_weights, p.recognition_weights, p.generative_biases, p.recognition_biases):
        for a in arrs:
            a[...] = rng.normal(0.0, scale, a.shape)
    for k in circuit.nonnegative_generative_weights_into:
        np.abs(p.generative_weights[k], out=p.generative_weights[k])
    return p.on_grid(circuit)


def _weight_updates(circuit: Circuit, s_pre, s_post, p_post, w, parameter_set: str = "generative_weights", k: int = 0):
    """Per enumerated state (axis 0), the update of a weight set per unit of
    learning rate: the circuit's plasticity (eqs. 4 and 7's delta rule, or a
    declared rule, :mod:`hm_neuro.model.plasticity`)."""
    rule = circuit.plasticity
    if rule.is_default:
        return s_pre[:, :, None] * (s_post - p_post)[:, None, :]
    out = rule.numpy("weight", parameter_set, k)(
        s_pre=s_pre[:, :, None], s_post=s_post[:, None, :], p_post=p_post[:, None, :], w=w[None]
    )
    return np.broadcast_to(out, (len(s_pre), *w.shape))


def _bias_updates(circuit: Circuit, s, p, b):
    rule = circuit.plasticity
    return s - p if rule.is_default else np.broadcast_to(rule.numpy("bias")(s=s, p=p, b=b[None]), s.shape)


def expected_wake_update(p: Parameters, circuit: Circuit, d, biases: bool = False):
    """E_Q[update] and E_Q[update^2] of eq. 4 (or the circuit's declared
    rule) for data d, by enumeration: per generative weight set, then
    (``biases``) per generative bias set."""
    hid = hidden_states(circuit.layers)
    L = circuit.n_hidden_layers
    states = [np.tile(d, (len(hid[0]), 1))] + hid
    w = np.exp(log_recognition(p, states))  # Q(alpha | d) of every alpha
    pred = [sigmoid(generative_logits(p, states, k)) for k in range(L + 1)]
    upd = [
        _weight_updates(circuit, states[k + 1], states[k], pred[k], p.generative_weights[k], "generative_weights", k)
        for k in range(L)
    ]
    if biases:  # eq. 4 on the biases
        upd += [_bias_updates(circuit, states[l], pred[l], p.generative_biases[l]) for l in range(L + 1)]
    return [np.tensordot(w, u, 1) for u in upd], [np.tensordot(w, u**2, 1) for u in upd]


def expected_sleep_update(p: Parameters, circuit: Circuit, biases: bool = False):
    """E_P[update] and E_P[update^2] of eq. 7 (or the circuit's declared
    rule) over fantasies, by enumeration: per recognition weight set, then
    (``biases``) per recognition bias set."""
    full = hidden_states((0,) + tuple(circuit.layers))  # enumerate input and hidden units
    L = circuit.n_hidden_layers
    w = np.exp(log_joint(p, full))  # P(alpha, d) of every fantasy
    q = [sigmoid(recognition_logits(p, full, k)) for k in range(L)]
    upd = [
        _weight_updates(circuit, full[k], full[k + 1], q[k], p.recognition_weights[k], "recognition_weights", k)
        for k in range(L)
    ]
    if biases:  # eq. 7 on the biases
        upd += [_bias_updates(circuit, full[k + 1], q[k], p.recognition_biases[k]) for k in range(L)]
    return [np.tensordot(w, u, 1) for u in upd], [np.tensordot(w, u**2, 1) for u in upd]


def _forced(states: list) -> list:
    """Per enumerated state, the uniforms that make a sample take it (0: on, 1: off)."""
    return [[1.0 - x[a] for x in states] for a in range(len(states[0]))]


def expected_example(p: Parameters, circuit: Circuit, d, wake_gate: float = 1.0, sleep_gate: float = 1.0) -> tuple:
    """E[x] and E[x^2] of every parameter array x (and synapse state;
    ``{name: array}`` as :meth:`Parameters.arrays`) after one example --
    a wake phase on ``d``, then a sleep phase, with the given gates -- by
    enumeration: every recognition sample (weighed by Q(. | d)) and, after
    its wake update, every fantasy (weighed by the updated P) is forced
    through the reference's phases (a uniform 0 turns a unit on, 1 off).
    For any rule, with synaptic state or not; a rule's stochastic rounding
    (:data:`hm_neuro.model.plasticity.DRAW`) by its mean, which is exact
    where the draws enter the state linearly."""
    from .engines.reference import sleep_phase, wake_phase

    p = p.with_state(circuit)
    if circuit.plasticity.draws:  # stochastic rounding by its mean (exact where the draws enter linearly)
        circuit = circuit.replace(plasticity=circuit.plasticity.mean_field())
    d = np.asarray(d, dtype=float)
    hid = hidden_states(circuit.layers)
    full = hidden_states((0,) + tuple(circuit.layers))
    q_wake = np.exp(log_recognition(p, [np.tile(d, (len(hid[0]), 1))] + hid))
    mean, second = {}, {}
    for qa, u in zip(q_wake, _forced(hid)):
        awake = p.copy()
        wake_phase(awake, circuit, d, u, wake_gate)
        for pf, v in zip(np.exp(log_joint(awake, full)), _forced(full)):
            after = awake.copy()
            sleep_phase(after, circuit, v, sleep_gate)
            for name, a in after.arrays().items():
                mean[name] = mean.get(name, 0.0) + qa * pf * a
                second[name] = second.get(name, 0.0) + qa * pf * a**2
    return mean, second


def example_expectation_check(phase: str, device: str, plasticity: Plasticity, copies: int = 4000) -> Result:
    """One example (``phase`` learning, the other gated off) in ``copies``
    machines of a 4-3-2 circuit (a population, each with its own stream,
    from the same parameters and synapse state): their mean of every
    parameter and state variable against :func:`expected_example` -- for
    rules whose update is not proportional to the learning rate (a synapse
    with state)."""
    t0 = time.perf_counter()
    c = Circuit.uniform([4, 3, 2], 0.3, name="expectation").replace(plasticity=plasticity)
    c = c.replace(
        learning_rates={**c.learning_rates, "generative_weights": (0.3, 0.2), "recognition_weights": (0.25, 0.15)}
    )
    rng = np.random.default_rng(21)
    p0 = random_parameters(c, rng, scale=1.0).with_state(c)
    for arrays in p0.synapse_state.values():  # a state away from its initial value
        for a in arrays:
            a += rng.normal(0.0, 0.5, a.shape)
    d = np.array([1.0, 0.0, 1.0, 1.0])
    wg, sg = (1.0, 0.0) if phase == "wake" else (0.0, 1.0)
    with make_engine(c, "brian2", device=device, chunk=1, n_machines=copies) as eng:
        p1s, _ = eng.run_population(
            [p0] * copies,
            [d[None]] * copies,
            [8 + k for k in range(copies)],
            [np.full(1, wg)] * copies,
            [np.full(1, sg)] * copies,
        )
    mean, second = expected_example(p0, c, d, wg, sg)
    z = 0.0
    arrays = [p.arrays() for p in p1s]
    for name in mean:
        values = np.array([a[name] for a in arrays])
        got = values.mean(axis=0)
        # the enumerated variance; with stochastic rounding (enumerated by its mean) the sample's if larger
        se = np.sqrt(np.maximum(np.maximum(second[name] - mean[name] ** 2, 0.0), values.var(axis=0)) / copies)
        z = max(z, float(np.max(np.abs(got - mean[name]) / np.maximum(se, 1e-9))))
    return Result(
        f"expectation {phase} example ({plasticity.name})",
        device,
        z,
        z <= EXPECTATION_SE,
        time.perf_counter() - t0,
        "max |error| in standard errors",
    )


def mean_update_errors(total, eps: float, mean, second, M: int):
    """``|sample mean - expectation|`` in standard errors (from the exact
    variance), per weight; ``total`` = eps * the sum of M updates."""
    se = np.sqrt(np.maximum(second - mean**2, 0.0) / M)
    err = np.abs(total / (eps * M) - mean)
    return err / np.maximum(se, 1e-6 / EXPECTATION_SE)


def run_both(circuit: Circuit, options: dict, seed: int = 0, n: int = 2000, perturbation=None):
    """The reference and an engine (``options``: :func:`make_engine`'s, e.g.
    ``{"engine": "brian2", "device": "numpy", "propagation": "event"}``) on
    the same data, uniforms and schedule: (initial, reference, engine
    parameters, reference samples, engine samples).  Every engine that takes
    the uniforms of sampling as arrays (``Capabilities.uniforms``) runs."""
    perturbation = perturbation or NO_PERTURBATION
    rng = np.random.default_rng(seed)
    p0 = random_parameters(circuit, rng, scale=0.5)
    data = (rng.random((n, circuit.n_input)) < 0.3).astype(float)
    u = Uniforms.draw(circuit, n, rng)
    wg, sg = schedule_gates(SCHEDULE, 0, n)
    ref = p0.copy()
    rounding = None if circuit.precision.exact else Rounding(circuit.precision, seed, 0)
    ref_samples = reference_train(
        ref, circuit, data, u, wg, sg, record_samples=True, perturbation=perturbation, rounding=rounding
    )
    external = {"external_uniforms": True} if capabilities(options["engine"]).brian2 else {}
    with make_engine(circuit, **options, chunk=n, record_spikes=True, **external) as eng:
        got, extras = eng.run(p0, data, seed=seed, wake_gate=wg, sleep_gate=sg, uniforms=u, perturbation=perturbation)
    return p0, ref, got, ref_samples, (extras["wake"], extras["sleep"])


def sample_mismatch(ref_samples, b2_samples) -> str | None:
    """Where the two engines' samples first differ, or None."""
    for phase, a, b in zip(("wake", "sleep"), ref_samples, b2_samples):
        for l, (x, y) in enumerate(zip(a, b)):
            bad = np.argwhere(x != y)
            if len(bad):
                return f"{phase} samples of layer {l} differ first at (example, unit) {tuple(bad[0])}"
    return None


@dataclasses.dataclass
class Result:
    check: str
    device: str
    difference: float
    passed: bool
    seconds: float
    note: str = ""


def exact_check(name: str, circuit: Circuit, device: str, propagation: str = "summed", n: int = 2000) -> Result:
    t0 = time.perf_counter()
    p0, ref, b2p, rs, bs = run_both(circuit, {"engine": "brian2", "device": device, "propagation": propagation}, n=n)
    diff = b2p.max_abs_difference(ref)
    mismatch = sample_mismatch(rs, bs)
    learned = ref.max_abs_difference(p0) > 0.1
    return Result(
        f"exact {name} ({propagation})",
        device,
        diff,
        diff <= EXACT_TOLERANCE and not mismatch and learned,
        time.perf_counter() - t0,
        mismatch or ("" if learned else "nothing was learned"),
    )


#: a declared rule for the checks: the delta rule with weight and bias decay and a
#: saturating term (every variable a rule may read, and a function)
DECLARED = Plasticity(
    weight="s_pre * (s_post - p_post) - lam * w + 0.1 * tanh(w) * s_post",
    bias="s - p - lam * b",
    constants={"lam": 0.3},
    name="declared test rule",
)
#: a synapse with state for the checks: a consolidating chain (hm_neuro.model.plasticity)
#: whose slow variable also enters the update
STATEFUL = Plasticity(
    weight="s_pre * (s_post - p_post) - 0.01 * u2",
    expressed="u1",
    constants={"g": 0.05, "c2": 4.0},
    state={
        "u1": {"init": "w", "update": "u1 + dw + g * (u2 - u1)"},
        "u2": {"init": "0.5 * w", "update": "u2 + g / c2 * (u1 - u2)"},
    },
    name="consolidating chain",
)


def expectation_check(
    phase: str,
    device: str,
    copies: int = 400,
    per_copy: int = 50,
    plasticity: Plasticity | None = None,
    options: dict | None = None,
) -> Result:
    """Mean single-phase update of a 4-3-2 circuit against eq. 4 / eq. 7 (or
    a declared ``plasticity``) by enumeration, weights and biases: M =
    ``copies`` x ``per_copy`` updates from the same weights (eps = 1e-9, so
    the weights stay put), a population of copies with their own streams,
    each ``per_copy`` examples long (Brian2's numpy target pays per step,
    not per machine).  On the Brian2 circuit on ``device``, or on the
    engine of ``options`` (:func:`hm_neuro.engines.make_engine`'s)."""
    t0 = time.perf_counter()
    M = copies * per_copy
    c = Circuit.uniform([4, 3, 2], 1e-9, name="expectation").replace(plasticity=plasticity)
    rng = np.random.default_rng(21)
    p0 = random_parameters(c, rng, scale=1.0)
    d = np.array([1.0, 0.0, 1.0, 1.0])
    ones, zeros = np.ones(per_copy), np.zeros(per_copy)
    wg, sg = (ones, zeros) if phase == "wake" else (zeros, ones)
    engine = options if options is not None else {"engine": "brian2", "device": device}
    with make_engine(c, **engine, chunk=per_copy, n_machines=copies) as eng:
        p1s, _ = eng.run_population(
            [p0] * copies,
            [np.tile(d, (per_copy, 1))] * copies,
            [8 + k for k in range(copies)],
            [wg] * copies,
            [sg] * copies,
        )
    pathway = "generative" if phase == "wake" else "recognition"
    sets = (f"{pathway}_weights", f"{pathway}_biases")
    totals = [
        sum(getattr(p, name)[i] for p in p1s) - copies * w for name in sets for i, w in enumerate(getattr(p0, name))
    ]
    if phase == "wake":
        mean, second = expected_wake_update(p0, c, d, biases=True)
    else:
        mean, second = expected_sleep_update(p0, c, biases=True)
    z = max(float(np.max(mean_update_errors(t, 1e-9, m, s, M))) for t, m, s in zip(totals, mean, second))
    rule = "" if c.plasticity.is_default else ", declared rule"
    return Result(
        f"expectation {phase} (eq. {4 if phase == 'wake' else 7}{rule})",
        device,
        z,
        z <= EXPECTATION_SE,
        time.perf_counter() - t0,
        "max |error| in standard errors",
    )


def checks(devices, quick: bool) -> list:
    """(function, arguments) of every check for ``devices``."""
    bars = load_circuit("bars")
    four = Circuit.uniform([12, 8, 6, 4, 2], 0.05, nonnegative_into=(0, 2), name="four-hidden")
    out = []
    decay = load_circuit("bars_weight_decay")
    for device in devices:
        out.append((exact_check, ("16-8-1", bars, device)))
        out.append((exact_check, ("16-8-1 declared decay", decay.replace(plasticity=DECLARED), device)))
        if not quick:
            out.append((exact_check, ("four-hidden", four, device)))
            out.append((exact_check, ("16-8-1", bars, device, "event")))
            out.append((exact_check, ("16-8-1 loihi", bars.replace(precision="loihi"), device)))
            out.append((exact_check, ("16-8-1 synapse state", bars.replace(plasticity=STATEFUL), device)))
            out.append((exact_check, ("16-8-1 lateral", load_circuit("bars_lateral"), device)))
        out += [(expectation_check, ("wake", device)), (expectation_check, ("sleep", device))]
        if not quick:
            out += [(expectation_check, (phase, device, 400, 50, DECLARED)) for phase in ("wake", "sleep")]
            out += [(example_expectation_check, (phase, device, STATEFUL)) for phase in ("wake", "sleep")]
    return out


def run_checks(devices=("numpy", "cpp_standalone"), quick: bool = True, out=print) -> bool:
    """Run every check, print a table (check, device, max difference, pass/fail,
    seconds) through ``out``; True if every check passed."""
    rows = []
    out(f"{'check':<42} {'device':<15} {'max difference':>15}  {'result':<6} {'seconds':>8}")
    for fn, args in checks(devices, quick):
        r = fn(*args)
        rows.append(r)
        unit = " SE" if r.check.startswith("expectation") else ""
        out(
            f"{r.check:<42} {r.device:<15} {r.difference:>12.3g}{unit:<3}  {'pass' if r.passed else 'FAIL':<6} "
            f"{r.seconds:>8.1f}" + (f"  {r.note}" if not r.passed and r.note else "")
        )
    failed = [r for r in rows if not r.passed]
    out(f"{len(rows) - len(failed)} of {len(rows)} checks passed" + (f"; FAILED: {len(failed)}" if failed else ""))
    return not failed
