"""A NumPy engine vectorised over the machines of a population.

:mod:`hm_neuro.engines.reference` trains one machine, one example at a time:
the yardstick.  This engine trains ``N`` machines of one shape at once, every
array carrying a leading machine axis (and, for the states, a sample axis
``K``), so that one NumPy call per step does ``N`` machines' work -- the fair
NumPy competitor of a Brian2 population, and the engine of every learning
rule of :mod:`hm_neuro.model.rules`.  Fed the same uniforms it equals the
reference (tested to 1e-12).

Randomness: the machines' counter-based streams (:meth:`Uniforms.stream`,
the same numbers as every other engine); with ``rng='mt19937'``, per
machine, per chunk, one generator (the chunk's seed) draws the wake
uniforms ``(rows, K, units)`` layer by layer and then the sleep uniforms
``(rows, units)``; for K = 1 that is :meth:`Uniforms.draw`'s order, so with one
sample this engine draws what the reference draws.
"""

from __future__ import annotations

import numpy as np

from .. import philox
from ..errors import bad
from ..model import (
    PARAMETER_SETS,
    WAKE_SLEEP,
    Circuit,
    Parameters,
    Rule,
    Uniforms,
    draw_group,
    log_bernoulli,
    rounding_group,
    sample_in_order,
    sigmoid,
)
from ..model.expressions import fill
from .base import Chunk, EngineBase

#: most examples per chunk (the chunk's uniforms are drawn at once, per machine and sample)
MAX_VECTORISED_CHUNK = 10_000
#: the most memory a chunk's uniforms may take (chunks are shortened to fit)
UNIFORMS_BYTES = 2**30


def chunk_limit(circuit: Circuit, rule: Rule, n_machines: int) -> int:
    """The longest chunk whose uniforms (examples x machines x (K samples of
    the hidden units + S fantasies of every unit) doubles) fit in
    :data:`UNIFORMS_BYTES`, at most :data:`MAX_VECTORISED_CHUNK`; refuses a population
    of which not even one example fits."""
    n = circuit.layers
    per_example = 8 * n_machines * (rule.samples * sum(n[1:]) + rule.fantasies * sum(n))
    if circuit.precision.stochastic:  # a rounding draw per parameter, in both phases
        per_example += 8 * n_machines * 2 * (2 * sum(a * b for a, b in zip(n[:-1], n[1:])) + 2 * sum(n))
    if per_example > UNIFORMS_BYTES:
        raise bad(
            "rule",
            f"{rule.label} on layers {list(n)} x {n_machines} machine(s) needs "
            f"{per_example / 2**30:.1f} GiB of uniforms per example, more than the limit of "
            f"{UNIFORMS_BYTES / 2**30:.0f} GiB",
            rule.label,
        )
    return int(min(MAX_VECTORISED_CHUNK, UNIFORMS_BYTES // per_example))


def stack(params: list) -> dict:
    """The parameters of N machines as arrays with a leading machine axis
    (biases as ``(N, 1, n)``, so that they broadcast over samples)."""
    out = {}
    for name in ("generative_weights", "recognition_weights"):
        out[name] = [np.stack([getattr(p, name)[k] for p in params]) for k in range(len(getattr(params[0], name)))]
    for name in ("generative_biases", "recognition_biases"):
        out[name] = [
            np.stack([getattr(p, name)[k] for p in params])[:, None, :] for k in range(len(getattr(params[0], name)))
        ]
    out["synapse_state"] = {
        key: [np.stack([p.synapse_state[key][k] for p in params]) for k in range(len(v))]
        for key, v in params[0].synapse_state.items()
    }
    out["lateral"] = {key: np.stack([p.lateral[key] for p in params]) for key in params[0].lateral}
    out["orders"] = dict(params[0].orders)
    return out


def unstack(arrays: dict, i: int) -> Parameters:
    return Parameters(
        *[
            [a[i].reshape(a.shape[2:]) if name.endswith("biases") else a[i].copy() for a in arrays[name]]
            for name in PARAMETER_SETS
        ],
        synapse_state={key: [a[i].copy() for a in v] for key, v in arrays["synapse_state"].items()},
        lateral={key: a[i].copy() for key, a in arrays["lateral"].items()},
        orders=dict(arrays["orders"]),
    )


def _masked(w, mask):
    return w * mask if isinstance(mask, np.ndarray) else w


class _Learning:
    """The updates of N machines' parameter arrays (leading machine axis):
    exact in place, or rounded onto the circuit's grids
    (:mod:`hm_neuro.model.precision`) with each machine's rounding draws of
    the chunk, drawn once per parameter set and phase."""

    def __init__(self, circuit: Circuit, keys, offset: int, rows: int):
        self.precision = circuit.precision
        self.keys, self.offset, self.rows = list(keys), int(offset), int(rows)
        self.draws = {}

    def at(self, P, t: int):
        """``learn(set, k, dA, purpose[, nonnegative])`` of example ``t`` of the
        chunk; ``learn.draw(set, k, purpose, shape)``: the ``draw(c)`` of a
        declared rule's stochastic rounding (:mod:`hm_neuro.model.plasticity`)."""

        def learn(name, k, dA, purpose, nonnegative=False):
            self(P, name, k, dA, t, purpose, nonnegative)

        learn.draw = lambda name, k, purpose, shape: lambda c: self.declared_draws(name, k, c, purpose, t, shape)
        return learn

    def declared_draws(self, name, k, c, purpose, t, shape):
        """Every machine's uniforms (``shape`` = (N, pre, post)) of call c of a
        declared rule's stochastic rounding on weight set k at example t,
        drawn once per chunk."""
        if (name, k, c, purpose, "declared") not in self.draws:
            size = int(np.prod(shape[1:]))
            self.draws[(name, k, c, purpose, "declared")] = np.stack(
                [
                    philox.uniforms(key, self.offset, self.rows, size, draw_group(name, k, c), purpose)
                    for key in self.keys
                ],
                axis=1,
            )  # (rows, N, size)
        return self.draws[(name, k, c, purpose, "declared")][t].reshape(shape)

    def __call__(self, P, name, k, dA, t, purpose, nonnegative=False):
        """``P[name][k] += dA`` (kept >= 0 where asked), or onto its grid."""
        A = P[name][k]
        grid = self.precision.grid(name, k)
        if grid is None:
            A += dA
            if nonnegative:
                np.maximum(A, 0.0, out=A)
            return
        u = None
        if grid.rounding == "stochastic":
            if (name, k, purpose) not in self.draws:
                size = A[0].size
                self.draws[(name, k, purpose)] = np.stack(
                    [
                        philox.uniforms(key, self.offset, self.rows, size, rounding_group(name, k), purpose)
                        for key in self.keys
                    ],
                    axis=1,
                )  # (rows, N, size)
            u = self.draws[(name, k, purpose)][t].reshape(A.shape)
        P[name][k] = grid.update(A, dA, u, nonnegative)


class VectorisedEngine(EngineBase):
    """N machines of one shape trained together in NumPy (see the module docstring).

    Implements :class:`hm_neuro.engines.Engine`; lesions are per-machine masks,
    clamps per-machine states, learning rates per machine (circuits of one
    shape).
    """

    name = "vectorised"
    device = "numpy"

    @classmethod
    def from_options(cls, circuit: Circuit, options, n_machines: int = 1) -> VectorisedEngine:
        limit = chunk_limit(circuit, options.rule, n_machines)
        engine = super().from_options(circuit, options.replace(chunk=min(options.chunk, limit)), n_machines)
        engine.rule = options.rule
        return engine

    def __init__(self, circuit: Circuit, *args, rule: Rule = WAKE_SLEEP, **kwargs):
        super().__init__(circuit, *args, **kwargs)
        self.rule = Rule.parse(rule)

    def draw(self, n: int, rng: np.random.Generator):
        """One machine's uniforms for ``n`` examples: wake ``(n, K, units)`` per
        hidden layer, then sleep ``(n, S, units)`` per layer (K samples, S
        fantasies; with one of each, :meth:`Uniforms.draw`'s arrays and order)."""
        K, S = self.rule.samples, self.rule.fantasies
        wake = [rng.random((n, K, m)) if K > 1 else rng.random((n, m))[:, None, :] for m in self.circuit.layers[1:]]
        sleep = [rng.random((n, S, m)) if S > 1 else rng.random((n, m))[:, None, :] for m in self.circuit.layers]
        return Uniforms(wake, sleep)

    def train_chunk(self, params: list, chunk: Chunk):
        N, m, L = len(params), chunk.rows, self.circuit.n_hidden_layers
        data, circuits, pts, uniforms, offset = (
            chunk.data,
            chunk.circuits,
            chunk.perturbation,
            chunk.uniforms,
            chunk.offset,
        )
        if uniforms is None and self.rng == "philox":
            K, S = self.rule.samples, self.rule.fantasies
            uniforms = [Uniforms.stream(self.circuit, key, offset, m, K, S) for key in chunk.seeds]
        if uniforms is None:
            uniforms = [self.draw(m, np.random.default_rng(s)) for s in chunk.seeds]
        else:  # (n, units) uniforms of the reference: one sample, one fantasy
            uniforms = [
                Uniforms(
                    [w if w.ndim == 3 else w[:, None, :] for w in u.wake],
                    [f if f.ndim == 3 else f[:, None, :] for f in u.sleep],
                )
                for u in uniforms
            ]
        uw = [np.stack([u.wake[k] for u in uniforms], axis=1) for k in range(L)]  # (m, N, K, n)
        us = [np.stack([u.sleep[l] for u in uniforms], axis=1) for l in range(L + 1)]  # (m, N, S, n)
        X = np.stack([np.asarray(d, dtype=float) for d in data], axis=1)[:, :, None, :]  # (m, N, 1, n0)
        gw, gs = (
            np.stack([np.ones(m) if g is None else np.asarray(g, float) for g in gates], axis=1)[:, :, None, None]
            for gates in (chunk.wake_gate, chunk.sleep_gate)
        )
        P = stack(params)
        eps = {
            name: [np.array([c.learning_rates[name][k] for c in circuits])[:, None, None] for k in range(len(P[name]))]
            for name in PARAMETER_SETS
        }
        eps["lateral"] = {
            key: np.array([c.lateral.of(*key).learning_rate for c in circuits])[:, None, None] for key in P["lateral"]
        }
        masks = {kind: [self._mask(pts, kind, k) for k in range(L)] for kind in ("generative", "recognition")}
        clamps = [self._clamp(pts, l) for l in range(L + 1)]
        learn = _Learning(self.circuit, chunk.seeds, offset, m)
        rec = {"wake": [[] for _ in range(L + 1)], "sleep": [[] for _ in range(L + 1)]} if self.record_spikes else None
        seen, snaps = [], {}
        with np.errstate(over="ignore"):
            for t in range(m):
                if self.stop_requested:  # a signal (hm_neuro.interrupts): the caller discards this chunk
                    break
                if self.record_every and (offset + t) % self.record_every == 0:
                    seen.append(offset + t)
                    for i in range(N):
                        for name, a in unstack(P, i).arrays().items():
                            snaps.setdefault(i, {}).setdefault(name, []).append(a.ravel().copy())
                s = self._wake(P, eps, masks, clamps, X[t], [u[t] for u in uw], gw[t], learn.at(P, t))
                f = self._sleep(P, eps, masks, clamps, [u[t] for u in us], gs[t], learn.at(P, t))
                if rec is not None:
                    for l in range(L + 1):
                        rec["wake"][l].append(np.broadcast_to(s[l][:, 0, :], (N, self.circuit.layers[l])).copy())
                        rec["sleep"][l].append(np.broadcast_to(f[l][:, 0, :], (N, self.circuit.layers[l])).copy())
        out = [unstack(P, i) for i in range(N)]
        extras = []
        for i in range(N):
            e = {"history_seen": list(seen), "history": {k: np.array(v) for k, v in snaps.get(i, {}).items()}}
            if rec is not None:
                for phase in ("wake", "sleep"):
                    e[phase] = [np.array([r[i] for r in rec[phase][l]]) for l in range(L + 1)]
            extras.append(e)
        return out, extras

    # ------------------------------------------------------------ helpers

    @property
    def _declared(self) -> bool:
        """The circuit's plasticity -- the papers' delta rule or a user's --
        runs as its declaration (:mod:`hm_neuro.model.plasticity`), but for
        the rules of several samples (``reweighted:K``, ``wake-sleep:S``)
        and lateral connections, which keep their own code (a declared rule
        with either is refused)."""
        return self.rule.is_default and not self.circuit.lateral

    def _weight_rule(self, s_pre, s_post, p_post, P, name, k, learn, purpose):
        """The declared weight rule (:mod:`hm_neuro.model.plasticity`) of every
        machine: states (N, 1, n), weights (N, pre, post)."""
        rule, W = self.circuit.plasticity, P[name][k]
        state = {h: P["synapse_state"][(name, h)][k] for h in rule.state}
        draw = learn.draw(name, k, purpose, W.shape) if rule.draws else None
        out = rule.numpy("weight", name, k)(
            draw, s_pre=s_pre[:, 0, :, None], s_post=s_post[:, 0, None, :], p_post=p_post[:, 0, None, :], w=W, **state
        )
        return fill(out, W.shape)

    def _declared_event(self, P, name, k, dW, s_pre, s_post, p_post, learn, purpose, nonnegative=False):
        """A weight set's update by the declared rule: ``w += dW`` (``learn``),
        or with synaptic state the learning event of every machine."""
        rule = self.circuit.plasticity
        if not rule.stateful:
            learn(name, k, dW, purpose, nonnegative)
            return
        state = {h: P["synapse_state"][(name, h)][k] for h in rule.state}
        draw = learn.draw(name, k, purpose, P[name][k].shape) if rule.draws else None
        S = (s_pre[:, 0, :, None], s_post[:, 0, None, :], p_post[:, 0, None, :])
        W, new = rule.numpy_event(dW, P[name][k], state, *S, nonnegative, name, k, draw)
        P[name][k] = W
        for h, a in new.items():
            P["synapse_state"][(name, h)][k] = a

    def _bias_rule(self, s, p, b):
        """The declared bias rule of every machine: (N, 1, n)."""
        return fill(self.circuit.plasticity.numpy("bias")(s=s, p=p, b=b), np.broadcast_shapes(np.shape(s), np.shape(b)))

    def _mask(self, pts, kind, k):
        if all((kind, k) not in pt.lesions for pt in pts):
            return 1.0
        return np.stack(
            [np.asarray(pt.mask(kind, k), dtype=float) * np.ones(self.circuit.weight_shape(kind, k)) for pt in pts]
        )

    def _clamp(self, pts, l):
        if all(l not in pt.clamps for pt in pts):
            return None
        on = np.array([l in pt.clamps for pt in pts])[:, None, None]
        values = np.stack([np.asarray(pt.clamps.get(l, np.zeros(self.circuit.layers[l])), dtype=float) for pt in pts])[
            :, None, :
        ]
        return on, values

    def _wake(self, P, eps, masks, clamps, d, u, gate, learn):
        """Wake phase of every machine: K recognition samples, then the
        (weighted) delta rules; ``learn(set, k, dA, purpose[, nonnegative])``
        applies an update."""
        L = self.circuit.n_hidden_layers
        rule = self.rule
        G, R = P["generative_weights"], P["recognition_weights"]
        gb, rb = P["generative_biases"], P["recognition_biases"]
        gm, rm = masks["generative"], masks["recognition"]
        s, qlog = [d], []
        lateral = P["lateral"]
        for k in range(L):  # eq. 1, bottom-up (a layer with lateral weights in their order)
            x = rb[k] + s[k] @ _masked(R[k], rm[k])
            A = lateral.get(("recognition", k + 1))
            if A is None:
                st = (u[k] < sigmoid(x)).astype(float)
            else:
                st = sample_in_order(x, A, P["orders"][("recognition", k + 1)], u[k])
            if clamps[k + 1] is not None:
                st = np.where(clamps[k + 1][0], clamps[k + 1][1], st)
            qlog.append(x if A is None else x + st @ A)
            s.append(st)
        glog = [gb[l] + s[l + 1] @ _masked(G[l], gm[l]) for l in range(L)] + [gb[L]]
        for (pathway, l), A in lateral.items():
            if pathway == "generative":
                glog[l] = glog[l] + s[l] @ A
        if rule.samples > 1 or rule.wake_update:
            # importance weights w_k from ln P(h_k, d) - ln Q(h_k | d) (eqs. 2-3), normalised over the K copies
            lw = sum(log_bernoulli(s[l], glog[l]) for l in range(L + 1))
            lw = lw - sum(log_bernoulli(s[k + 1], qlog[k]) for k in range(L))
            lw = lw - lw.max(axis=1, keepdims=True)
            w = np.exp(lw)
            w = (w / w.sum(axis=1, keepdims=True))[:, :, None]
        else:
            w = None
        e_gb, e_g = eps["generative_biases"], eps["generative_weights"]
        declared = self._declared
        for l in range(L + 1):  # eq. 4 (weighted over the K samples)
            if declared:  # the circuit's rule as declared (one sample: the papers' wake-sleep)
                p = sigmoid(glog[l])
                learn("generative_biases", l, e_gb[l] * gate * self._bias_rule(s[l], p, gb[l]), philox.ROUND_WAKE)
                if l < L:
                    dG = (
                        e_g[l]
                        * gate
                        * gm[l]
                        * self._weight_rule(s[l + 1], s[l], p, P, "generative_weights", l, learn, philox.ROUND_WAKE)
                    )
                    nonneg = self.circuit.nonnegative(l)
                    self._declared_event(
                        P, "generative_weights", l, dG, s[l + 1], s[l], p, learn, philox.ROUND_WAKE, nonneg
                    )
                continue
            err = s[l] - sigmoid(glog[l])
            if w is not None:
                err = w * err
            learn("generative_biases", l, e_gb[l] * gate * err.sum(axis=1, keepdims=True), philox.ROUND_WAKE)
            if l < L:
                dG = e_g[l] * gate * gm[l] * np.einsum("nka,nkb->nab", s[l + 1], err)
                learn("generative_weights", l, dG, philox.ROUND_WAKE, self.circuit.nonnegative(l))
            self._lateral_rule(P, eps, ("generative", l), s[l], err, gate)
        if rule.wake_update:  # the wake-phase Q update on real data
            e_rb, e_r = eps["recognition_biases"], eps["recognition_weights"]
            for k in range(L):
                err = w * (s[k + 1] - sigmoid(qlog[k]))
                learn("recognition_biases", k, e_rb[k] * gate * err.sum(axis=1, keepdims=True), philox.ROUND_WAKE)
                below = np.broadcast_to(s[k], err.shape[:2] + s[k].shape[2:])
                dR = e_r[k] * gate * rm[k] * np.einsum("nka,nkb->nab", below, err)
                learn("recognition_weights", k, dR, philox.ROUND_WAKE)
                self._lateral_rule(P, eps, ("recognition", k + 1), s[k + 1], err, gate)
        return s

    def _lateral_rule(self, P, eps, key, s, err, gate):
        """The delta rule on a layer's lateral weights, if it has them:
        ``dA_kj = eps s_k err_j`` on its connections (:mod:`hm_neuro.model.lateral`)."""
        if key in P["lateral"]:
            masks = self.__dict__.setdefault("_lateral_masks", {})
            mask = masks[key] if key in masks else masks.setdefault(key, self.circuit.lateral.of(*key).mask)
            s = np.broadcast_to(s, err.shape)
            P["lateral"][key] += eps["lateral"][key] * gate * mask * np.einsum("nka,nkb->nab", s, err)

    def _sleep(self, P, eps, masks, clamps, u, gate, learn):
        """Sleep phase of every machine: S fantasies top-down (S = 1: the
        papers'), then eq. 7 for each, from the same weights."""
        L = self.circuit.n_hidden_layers
        G, R = P["generative_weights"], P["recognition_weights"]
        gb, rb = P["generative_biases"], P["recognition_biases"]
        gm, rm = masks["generative"], masks["recognition"]
        f = [None] * (L + 1)
        for l in range(L, -1, -1):
            x = gb[l] if l == L else gb[l] + f[l + 1] @ _masked(G[l], gm[l])
            A = P["lateral"].get(("generative", l))
            if A is None:
                st = (u[l] < sigmoid(x)).astype(float)
            else:
                st = sample_in_order(x, A, P["orders"][("generative", l)], u[l])
            if clamps[l] is not None:
                st = np.where(clamps[l][0], clamps[l][1], st)
            f[l] = st
        if not self.rule.sleep_update:
            return f
        e_rb, e_r = eps["recognition_biases"], eps["recognition_weights"]
        for k in range(L):
            if self._declared:  # the circuit's rule as declared
                q = sigmoid(rb[k] + f[k] @ _masked(R[k], rm[k]))
                learn("recognition_biases", k, e_rb[k] * gate * self._bias_rule(f[k + 1], q, rb[k]), philox.ROUND_SLEEP)
                dR = (
                    e_r[k]
                    * gate
                    * rm[k]
                    * self._weight_rule(f[k], f[k + 1], q, P, "recognition_weights", k, learn, philox.ROUND_SLEEP)
                )
                self._declared_event(P, "recognition_weights", k, dR, f[k], f[k + 1], q, learn, philox.ROUND_SLEEP)
                continue
            x = rb[k] + f[k] @ _masked(R[k], rm[k])
            A = P["lateral"].get(("recognition", k + 1))
            err = f[k + 1] - sigmoid(x if A is None else x + f[k + 1] @ A)
            learn("recognition_biases", k, e_rb[k] * gate * err.sum(axis=1, keepdims=True), philox.ROUND_SLEEP)
            learn(
                "recognition_weights",
                k,
                e_r[k] * gate * rm[k] * np.einsum("nka,nkb->nab", f[k], err),
                philox.ROUND_SLEEP,
            )
            self._lateral_rule(P, eps, ("recognition", k + 1), f[k + 1], err, gate)
        return f
