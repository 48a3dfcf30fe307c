"""The NumPy reference: the stochastic Helmholtz machine and wake-sleep learning.

Plain, readable and slow on purpose: this module is the yardstick the Brian2
circuit (:mod:`hm_neuro.engines.brian2`) is held to.  Layer 0 is the input,
layer ``L`` the top; the parameter layout is the one of :mod:`hm_neuro.model.circuit`.

One training example (Hinton et al. 1995; Dayan, section 4):

wake
    clamp the data vector on layer 0; sample each hidden layer bottom-up with
    the recognition weights, ``s_l = [u < q_l]``, ``q_l = sigma(r_l + s_{l-1} R_l)``
    (eq. 1); then move the generative weights and biases by the delta rule
    ``dG_kj = eps s_k (s_j - p_j)`` (eq. 4), where ``p_j`` is the generative
    prediction of unit j from the layer above (eq. 1 again).
sleep
    sample a fantasy top-down with the generative weights (the top layer from
    its biases alone); then move the recognition weights and biases by
    ``dR_jk = eps s_j (s_k - q_k)`` (eq. 7).

Randomness: every Bernoulli draw compares a uniform number with a probability,
``s = int(u < p)``; the numbers are the machine's counter-based stream
(:meth:`Uniforms.stream`, :mod:`hm_neuro.philox`), or with ``rng='mt19937'``
a NumPy generator per chunk (:meth:`Uniforms.draw`).  Per example the draws are consumed in a fixed order --
``wake[l]`` for hidden layers ``l = 1..L`` and ``sleep[l]`` for ``l = 0..L`` --
so an engine fed the same :class:`Uniforms` produces the same samples.
"""

from __future__ import annotations

import numpy as np

from .. import philox
from ..errors import bad
from ..model import (
    DELTA_RULE,
    NO_PERTURBATION,
    Circuit,
    Parameters,
    Perturbation,
    Rounding,
    Uniforms,
    draws_of,
    generative_logits,
    recognition_logits,
    sample_layer,
    sigmoid,
)
from ..model.expressions import fill
from .base import Chunk, EngineBase


def wake_phase(
    params: Parameters,
    circuit: Circuit,
    d,
    u_wake,
    gate=1.0,
    perturbation: Perturbation = NO_PERTURBATION,
    rounding: Rounding | None = None,
    t: int = 0,
) -> list:
    """One wake phase; returns the total representation [d, s_1, ..., s_L].

    Recognition sample bottom-up (eq. 1), then the delta rule on the
    generative weights and biases (Hinton et al. 1995, eq. 4); with a
    finite precision (``rounding``, example ``t`` of it) each update is
    rounded onto its grid (:mod:`hm_neuro.model.precision`).
    """
    L = circuit.n_hidden_layers
    pt = perturbation
    s = [np.asarray(d, dtype=float)]
    rec_masks = pt.masks("recognition", L)
    for k in range(L):
        if k + 1 in pt.clamps:
            s.append(np.asarray(pt.clamps[k + 1], dtype=float))
        else:
            x = recognition_logits(params, s, k, rec_masks)
            s.append(
                sample_layer(params, "recognition", k + 1, x, u_wake[k], params.orders.get(("recognition", k + 1)))
            )
    masks = pt.masks("generative", L)
    eps = circuit.learning_rates
    learn = _learner(rounding, t, philox.ROUND_WAKE)
    rule = _declared(circuit, rounding, t, philox.ROUND_WAKE)
    for l in range(L + 1):
        p = sigmoid(generative_logits(params, s, l, masks))
        b, w = params.generative_biases, params.generative_weights
        b[l] = learn("generative_biases", l, b[l], eps["generative_biases"][l] * gate * rule.bias(s[l], p, b[l]))
        if l < L:
            dw = (
                eps["generative_weights"][l]
                * gate
                * masks[l]
                * rule.weight(s[l + 1], s[l], p, params, "generative_weights", l)
            )  # eq. 4
            if rule.stateful:
                rule.event(params, "generative_weights", l, dw, s[l + 1], s[l], p, circuit.nonnegative(l))
            else:
                w[l] = learn("generative_weights", l, w[l], dw, circuit.nonnegative(l))
        _lateral_rule(params, circuit, "generative", l, s[l], p, gate)
    return s


def _lateral_rule(params: Parameters, circuit: Circuit, pathway: str, l: int, s, p, gate):
    """The delta rule on layer l's lateral weights in ``pathway``, if it has
    them: ``dA_kj = eps s_k (s_j - p_j)`` on its connections (eq. 4 in the
    wake phase, eq. 7 in the sleep phase; :mod:`hm_neuro.model.lateral`)."""
    spec = circuit.lateral.of(pathway, l)
    if spec is not None:
        A = params.lateral[(pathway, l)]
        params.lateral[(pathway, l)] = A + spec.learning_rate * gate * spec.mask * np.outer(s, s - p)


class _Declared:
    """The circuit's plasticity (:mod:`hm_neuro.model.plasticity`) per unit
    of learning rate -- the papers' delta rule or a user's -- evaluated on
    the arrays as declared; with synaptic state, the
    learning event that updates it and expresses the weights.  ``draws``
    (a :class:`Rounding`, example ``t``, the phase's ``purpose``): the
    machine's stream for the rule's stochastic rounding."""

    def __init__(self, rule, rounding=None, t: int = 0, purpose: int = 0):
        self.rule = rule
        self.stateful = rule.stateful
        self.rounding, self.t, self.purpose = rounding, t, purpose

    def _state(self, params, parameter_set, k) -> dict:
        return {h: params.synapse_state[(parameter_set, h)][k] for h in self.rule.state}

    def _draw(self, parameter_set, k, shape):
        if not self.rule.draws:
            return None
        r = self.rounding
        return draws_of(r.key, r.offset + self.t, parameter_set, k, shape, self.purpose)

    def weight(self, s_pre, s_post, p_post, params, parameter_set, k):
        """(pre, post) updates of weight set k, eq. 4 or 7's factor."""
        w = getattr(params, parameter_set)[k]
        state = self._state(params, parameter_set, k) if self.stateful else {}
        values = dict(s_pre=s_pre[:, None], s_post=s_post[None, :], p_post=p_post[None, :], w=w, **state)
        f = self.rule.numpy("weight", parameter_set, k)
        return fill(f(self._draw(parameter_set, k, w.shape), **values), w.shape)

    def event(self, params, parameter_set, k, dw, s_pre, s_post, p_post, nonnegative):
        """A synapse set's learning event with state: the state moves, the weight is expressed."""
        w = getattr(params, parameter_set)[k]
        new_w, new = self.rule.numpy_event(
            dw,
            w,
            self._state(params, parameter_set, k),
            s_pre[:, None],
            s_post[None, :],
            p_post[None, :],
            nonnegative,
            parameter_set,
            k,
            self._draw(parameter_set, k, w.shape),
        )
        getattr(params, parameter_set)[k] = new_w
        for h, a in new.items():
            params.synapse_state[(parameter_set, h)][k] = a

    def bias(self, s, p, b):
        return fill(self.rule.numpy("bias")(s=s, p=p, b=b), b.shape)


#: the papers' delta rule (its declaration): made once, not per example (the reference calls for a rule
#: twice an example); it draws nothing, so it needs no stream
_DELTA_RULE = _Declared(DELTA_RULE)


def _declared(circuit: Circuit, rounding=None, t: int = 0, purpose: int = 0) -> _Declared:
    if circuit.plasticity.is_default:
        return _DELTA_RULE
    return _Declared(circuit.plasticity, rounding, t, purpose)


def _learner(rounding: Rounding | None, t: int, purpose: int):
    """``learn(set, k, w, dw, nonnegative)``: the new values of a parameter
    array, ``w + dw`` exactly or on its grid."""

    def learn(parameter_set, k, w, dw, nonnegative=False):
        if rounding is not None:
            return rounding.apply(parameter_set, k, w, dw, t, purpose, nonnegative)
        w = w + dw
        return np.maximum(w, 0.0) if nonnegative else w

    return learn


def sleep_phase(
    params: Parameters,
    circuit: Circuit,
    u_sleep,
    gate=1.0,
    perturbation: Perturbation = NO_PERTURBATION,
    rounding: Rounding | None = None,
    t: int = 0,
) -> list:
    """One sleep phase; returns the fantasy [d*, s*_1, ..., s*_L].

    Fantasy top-down from the generative model (eq. 1), then the delta rule
    on the recognition weights and biases (Hinton et al. 1995, eq. 7).
    """
    L = circuit.n_hidden_layers
    pt = perturbation
    f = [None] * (L + 1)
    gen_masks = pt.masks("generative", L)
    for l in range(L, -1, -1):
        if l in pt.clamps:
            f[l] = np.asarray(pt.clamps[l], dtype=float)
        else:
            x = generative_logits(params, f, l, gen_masks)
            f[l] = sample_layer(params, "generative", l, x, u_sleep[l], params.orders.get(("generative", l)))
    masks = pt.masks("recognition", L)
    eps = circuit.learning_rates
    learn = _learner(rounding, t, philox.ROUND_SLEEP)
    rule = _declared(circuit, rounding, t, philox.ROUND_SLEEP)
    for k in range(L):
        q = sigmoid(recognition_logits(params, f, k, masks))
        b, w = params.recognition_biases, params.recognition_weights
        b[k] = learn("recognition_biases", k, b[k], eps["recognition_biases"][k] * gate * rule.bias(f[k + 1], q, b[k]))
        dw = (
            eps["recognition_weights"][k]
            * gate
            * masks[k]
            * rule.weight(f[k], f[k + 1], q, params, "recognition_weights", k)
        )  # eq. 7
        if rule.stateful:
            rule.event(params, "recognition_weights", k, dw, f[k], f[k + 1], q, False)
        else:
            w[k] = learn("recognition_weights", k, w[k], dw)
        _lateral_rule(params, circuit, "recognition", k + 1, f[k + 1], q, gate)
    return f


def train(
    params: Parameters,
    circuit: Circuit,
    data,
    uniforms: Uniforms,
    wake_gate=None,
    sleep_gate=None,
    record_samples=False,
    perturbation: Perturbation = NO_PERTURBATION,
    rounding: Rounding | None = None,
):
    """Online wake-sleep on the rows of ``data``, one example per row, in place.

    ``wake_gate`` / ``sleep_gate``: optional per-example multipliers of the
    wake and sleep learning rates (1 = learn, 0 = sample only).
    ``perturbation``: lesions and clamps (:class:`Perturbation`).  With
    ``record_samples`` returns ``(wake_states, sleep_states)``: per layer an
    array ``(n_examples, n_units)`` of the sampled states.  ``rounding``:
    the machine's finite precision (:class:`hm_neuro.model.Rounding`; row
    t is its example t), needed when the circuit has one.
    """
    if rounding is None and not circuit.precision.exact:
        raise bad("rounding", f"the circuit has a finite precision ({circuit.precision.label}); pass its Rounding")
    if rounding is None and circuit.plasticity.draws:
        raise bad("rounding", f"the plasticity {circuit.plasticity.name} rounds stochastically; pass a Rounding")
    n = len(data)
    wg = np.ones(n) if wake_gate is None else wake_gate
    sg = np.ones(n) if sleep_gate is None else sleep_gate
    rec_w = [np.empty((n, m)) for m in circuit.layers] if record_samples else None
    rec_s = [np.empty((n, m)) for m in circuit.layers] if record_samples else None
    with np.errstate(over="ignore"):
        return _train_loop(params, circuit, data, uniforms, wg, sg, rec_w, rec_s, perturbation, rounding)


def _train_loop(params, circuit, data, uniforms, wg, sg, rec_w, rec_s, perturbation, rounding):
    L = circuit.n_hidden_layers
    record_samples = rec_w is not None
    for t in range(len(data)):
        s = wake_phase(params, circuit, data[t], [u[t] for u in uniforms.wake], wg[t], perturbation, rounding, t)
        f = sleep_phase(params, circuit, [u[t] for u in uniforms.sleep], sg[t], perturbation, rounding, t)
        if record_samples:
            for l in range(L + 1):
                rec_w[l][t] = s[l]
                rec_s[l][t] = f[l]
    return (rec_w, rec_s) if record_samples else None


#: examples between two looks at a stop request (a Ctrl-C ends a chunk within ~50 ms)
STOP_POLL = 1024


class NumpyEngine(EngineBase):
    """The reference (this module's :func:`train`) behind the engine interface:
    every machine of a population in turn, each with its own seed."""

    name = "numpy"
    device = "numpy"

    def train_chunk(self, params: list, chunk: Chunk):
        out = [self._one(p, chunk.machine(k)) for k, p in enumerate(params)]
        return [p for p, _ in out], [e for _, e in out]

    def _one(self, params: Parameters, chunk: Chunk):
        circuit, data, m, offset = chunk.circuits[0], chunk.data[0], chunk.rows, chunk.offset
        params = params.copy()
        if chunk.uniforms:
            u = chunk.uniforms[0]
        elif self.rng == "philox":
            u = Uniforms.stream(circuit, chunk.seeds[0], offset, m)
        else:
            u = Uniforms.draw(circuit, m, np.random.default_rng(chunk.seeds[0]))
        wg, sg = (
            np.ones(m) if g[0] is None else np.asarray(g[0], dtype=float) for g in (chunk.wake_gate, chunk.sleep_gate)
        )
        seen, snaps, samples = [], {}, {"wake": [], "sleep": []}
        # cut the chunk at the snapshot points (offset + t multiple of record_every)
        # and every STOP_POLL examples, where a signal can end the chunk early (hm_neuro.interrupts)
        cuts = set(range(0, m, STOP_POLL)) | {m}
        if self.record_every:
            cuts |= set(range((-offset) % self.record_every, m, self.record_every))
        cuts = sorted(cuts)
        for a, b in zip(cuts[:-1], cuts[1:]):
            if self.stop_requested:
                break
            if self.record_every and (offset + a) % self.record_every == 0:
                seen.append(offset + a)
                for name, arr in params.arrays().items():
                    snaps.setdefault(name, []).append(arr.ravel().copy())
            rec = train(
                params,
                circuit,
                data[a:b],
                u.rows(a, b),
                wg[a:b],
                sg[a:b],
                record_samples=self.record_spikes,
                perturbation=chunk.perturbation[0],
                rounding=None
                if circuit.precision.exact and not circuit.plasticity.draws
                else Rounding(circuit.precision, chunk.seeds[0], offset + a),
            )
            if rec is not None:
                samples["wake"].append(rec[0])
                samples["sleep"].append(rec[1])
        extras = {"history_seen": seen, "history": {k: np.array(v) for k, v in snaps.items()}}
        if self.record_spikes:
            for phase, parts in samples.items():
                extras[phase] = [np.concatenate([p[l] for p in parts]) for l in range(len(circuit.layers))]
        return params, extras
