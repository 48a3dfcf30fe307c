"""Learning rules, and a NumPy engine vectorised over the machines of a population.

:mod:`hm_neuro.reference` trains one machine, one example at a time, in plain
NumPy: the yardstick.  This module trains ``N`` machines of one shape at once,
every array carrying a leading machine axis (and, for the states, a sample
axis ``K``), so that one NumPy call per step does ``N`` machines' work -- the
fair NumPy competitor of a Brian2 population, and the engine of the learning
rules beyond the papers':

``wake-sleep`` (the papers', the default)
    Hinton et al. (1995): the wake phase moves the generative weights toward
    one recognition sample (eq. 4), the sleep phase the recognition weights
    toward one fantasy (eq. 7).  Fed the same uniforms, this engine equals
    :mod:`hm_neuro.reference` (tested to 1e-12).
``reweighted:K`` (Bornschein & Bengio 2015, reweighted wake-sleep)
    The wake phase draws ``K`` recognition samples ``h_k ~ Q(.|d)`` (K
    parallel copies of the hidden layers), weighs them by the normalised
    importance weights ``w_k = softmax_k(ln P(h_k, d) - ln Q(h_k|d))`` (eqs.
    2-3) and moves the generative weights by ``sum_k w_k`` times the delta
    rule of eq. 4 for ``h_k``; the recognition weights move by the same
    weighted delta rule toward the samples on real data (the "wake-phase Q
    update") and, by default, also by the sleep phase's eq. 7
    (``reweighted:K:wake`` leaves the sleep update out).  With K = 1 and no
    wake-phase Q update it is wake-sleep.
``wake-sleep:S`` (a local variant: one sample per phase and unit)
    The papers' rule with ``S`` fantasies per sleep phase instead of one,
    each drawn top-down from the same weights and each moving the
    recognition weights by eq. 7 -- S dreams per day: the recognition model
    gets S times the practice, with the noise of S samples averaged, while
    every synapse still sees one pre- and one postsynaptic state at a time.

Randomness: per machine, per chunk, one generator (the chunk's seed) draws
the wake uniforms ``(rows, K, units)`` layer by layer and then the sleep
uniforms ``(rows, units)``; for K = 1 that is :meth:`Uniforms.draw`'s order,
so with one sample this engine draws what the reference draws.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .circuit import Circuit
from .engines import InProcessEngine
from .errors import bad
from .model import NO_PERTURBATION, Parameters, Uniforms, log_bernoulli, sigmoid

RULE_NAMES = ("wake-sleep", "reweighted")
#: most samples K of the reweighted rule
MAX_SAMPLES = 1000
#: most examples per chunk (the chunk's uniforms are drawn at once, per machine and sample)
MAX_CHUNK = 10_000


@dataclasses.dataclass(frozen=True)
class Rule:
    """A learning rule: ``wake-sleep`` or ``reweighted`` with ``samples`` = K."""

    name: str = "wake-sleep"
    samples: int = 1
    fantasies: int = 1           #: fantasies per sleep phase (wake-sleep:S)
    sleep_update: bool = True    #: eq. 7 in the sleep phase
    wake_update: bool = False    #: the weighted recognition update on real data (reweighted)

    @classmethod
    def parse(cls, text: str) -> "Rule":
        """``wake-sleep``, ``reweighted:K`` or ``reweighted:K:wake`` (no sleep-phase Q update)."""
        if isinstance(text, Rule):
            return text
        parts = str(text).split(":")
        if parts[0] == "wake-sleep" and len(parts) == 1:
            return cls()
        if parts[0] == "wake-sleep" and len(parts) == 2:
            try:
                f = int(parts[1])
            except ValueError:
                raise bad("rule", "S of wake-sleep:S must be a whole number of fantasies, e.g. wake-sleep:4",
                          text) from None
            if not 1 <= f <= MAX_SAMPLES:
                raise bad("rule", f"S of wake-sleep:S must be in 1..{MAX_SAMPLES}", text)
            return cls(fantasies=f)
        if parts[0] == "reweighted" and len(parts) in (2, 3):
            try:
                k = int(parts[1])
            except ValueError:
                raise bad("rule", "K of reweighted:K must be a whole number, e.g. reweighted:5", text) from None
            if not 1 <= k <= MAX_SAMPLES:
                raise bad("rule", f"K of reweighted:K must be in 1..{MAX_SAMPLES}", text)
            if len(parts) == 3 and parts[2] != "wake":
                raise bad("rule", "the only option of reweighted:K is ':wake' (no sleep-phase update)", text)
            return cls("reweighted", k, sleep_update=len(parts) == 2, wake_update=True)
        raise bad("rule", "must be wake-sleep, wake-sleep:S (S fantasies), reweighted:K or reweighted:K:wake "
                  "(K samples, e.g. reweighted:5)",
                  text)

    @property
    def label(self) -> str:
        if self.name == "wake-sleep":
            return "wake-sleep" + (f":{self.fantasies}" if self.fantasies > 1 else "")
        return f"reweighted:{self.samples}" + ("" if self.sleep_update else ":wake")

    @property
    def is_default(self) -> bool:
        return self == Rule()


WAKE_SLEEP = Rule()


def stack(params: list) -> dict:
    """The parameters of N machines as arrays with a leading machine axis
    (biases as ``(N, 1, n)``, so that they broadcast over samples)."""
    out = {}
    for name in ("generative_weights", "recognition_weights"):
        out[name] = [np.stack([getattr(p, name)[k] for p in params]) for k in range(len(getattr(params[0], name)))]
    for name in ("generative_biases", "recognition_biases"):
        out[name] = [np.stack([getattr(p, name)[k] for p in params])[:, None, :]
                     for k in range(len(getattr(params[0], name)))]
    return out


def unstack(arrays: dict, i: int) -> Parameters:
    return Parameters(*[[a[i].reshape(a.shape[2:]) if name.endswith("biases") else a[i].copy() for a in arrays[name]]
                        for name in ("generative_weights", "recognition_weights", "generative_biases",
                                     "recognition_biases")])


def _masked(w, mask):
    return w * mask if isinstance(mask, np.ndarray) else w


class VectorisedEngine(InProcessEngine):
    """N machines of one shape trained together in NumPy (see the module docstring).

    Implements :class:`hm_neuro.engines.Engine`; lesions are per-machine masks,
    clamps per-machine states, learning rates per machine (circuits of one
    shape).
    """

    name = "vectorised"
    device = "numpy"

    def __init__(self, circuit: Circuit, chunk: int = MAX_CHUNK, record_every: int = 0, record_spikes: bool = False,
                 n_machines: int = 1, rule: Rule = WAKE_SLEEP):
        self.circuit = circuit
        self.chunk = chunk
        self.record_every = record_every
        self.record_spikes = record_spikes
        self.n_machines = n_machines
        self.rule = Rule.parse(rule)
        self.compile_seconds = 0.0


    def run(self, params, data, seed, wake_gate=None, sleep_gate=None, uniforms=None, offset=0,
            perturbation=NO_PERTURBATION):
        p, e = self.run_population([params], [data], [seed], None if wake_gate is None else [wake_gate],
                                   None if sleep_gate is None else [sleep_gate],
                                   None if uniforms is None else [uniforms], offset, [perturbation])
        return p[0], e[0]

    def draw(self, n: int, rng: np.random.Generator):
        """One machine's uniforms for ``n`` examples: wake ``(n, K, units)`` per
        hidden layer, then sleep ``(n, S, units)`` per layer (K samples, S
        fantasies; with one of each, :meth:`Uniforms.draw`'s arrays and order)."""
        K, S = self.rule.samples, self.rule.fantasies
        wake = [rng.random((n, K, m)) if K > 1 else rng.random((n, m))[:, None, :] for m in self.circuit.layers[1:]]
        sleep = [rng.random((n, S, m)) if S > 1 else rng.random((n, m))[:, None, :] for m in self.circuit.layers]
        return Uniforms(wake, sleep)

    def run_population(self, params, data, seeds, wake_gate=None, sleep_gate=None, uniforms=None, offset=0,
                       perturbation=None, circuits=None):
        N = len(params)
        c0 = self.circuit
        circuits = [c if c is not None else c0 for c in (circuits or [None] * N)]
        for c in circuits:
            if c.layers != c0.layers:
                raise bad("circuit", f"this engine is for layers {list(c0.layers)}", c.name)
        m = len(data[0])
        if m > self.chunk or any(len(d) != m for d in data):
            raise bad("data", f"every machine needs the same number of rows, at most {self.chunk}",
                      [len(d) for d in data])
        L = c0.n_hidden_layers
        pts = [NO_PERTURBATION if perturbation is None or perturbation[i] is None else perturbation[i]
               for i in range(N)]
        for pt in pts:
            pt.validate(c0)
        if uniforms is None:
            uniforms = [self.draw(m, np.random.default_rng(s)) for s in seeds]
        else:  # (n, units) uniforms of the reference: one sample, one fantasy
            uniforms = [Uniforms([w if w.ndim == 3 else w[:, None, :] for w in u.wake],
                                 [f if f.ndim == 3 else f[:, None, :] for f in u.sleep]) for u in uniforms]
        uw = [np.stack([u.wake[k] for u in uniforms], axis=1) for k in range(L)]      # (m, N, K, n)
        us = [np.stack([u.sleep[l] for u in uniforms], axis=1) for l in range(L + 1)]  # (m, N, S, n)
        X = np.stack([np.asarray(d, dtype=float) for d in data], axis=1)[:, :, None, :]   # (m, N, 1, n0)
        ones = np.ones(m)
        gw = np.stack([ones if wake_gate is None or wake_gate[i] is None else np.asarray(wake_gate[i], float)
                       for i in range(N)], axis=1)[:, :, None, None]
        gs = np.stack([ones if sleep_gate is None or sleep_gate[i] is None else np.asarray(sleep_gate[i], float)
                       for i in range(N)], axis=1)[:, :, None, None]
        P = stack(params)
        eps = {name: [np.array([c.learning_rates[name][k] for c in circuits])[:, None, None]
                      for k in range(len(P[name]))] for name in P}
        masks = {kind: [self._mask(pts, kind, k) for k in range(L)] for kind in ("generative", "recognition")}
        clamps = [self._clamp(pts, l) for l in range(L + 1)]
        rec = {"wake": [[] for _ in range(L + 1)], "sleep": [[] for _ in range(L + 1)]} if self.record_spikes else None
        seen, snaps = [], {}
        with np.errstate(over="ignore"):
            for t in range(m):
                if self.record_every and (offset + t) % self.record_every == 0:
                    seen.append(offset + t)
                    for i in range(N):
                        for name, a in unstack(P, i).arrays().items():
                            snaps.setdefault(i, {}).setdefault(name, []).append(a.ravel().copy())
                s = self._wake(P, eps, masks, clamps, X[t], [u[t] for u in uw], gw[t])
                f = self._sleep(P, eps, masks, clamps, [u[t] for u in us], gs[t])
                if rec is not None:
                    for l in range(L + 1):
                        rec["wake"][l].append(np.broadcast_to(s[l][:, 0, :], (N, c0.layers[l])).copy())
                        rec["sleep"][l].append(np.broadcast_to(f[l][:, 0, :], (N, c0.layers[l])).copy())
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

    def _mask(self, pts, kind, k):
        if all((kind, k) not in pt.lesions for pt in pts):
            return 1.0
        return np.stack([np.asarray(pt.mask(kind, k), dtype=float) * np.ones(self.circuit.weight_shape(kind, k))
                         for pt in pts])

    def _clamp(self, pts, l):
        if all(l not in pt.clamps for pt in pts):
            return None
        on = np.array([l in pt.clamps for pt in pts])[:, None, None]
        values = np.stack([np.asarray(pt.clamps.get(l, np.zeros(self.circuit.layers[l])), dtype=float)
                           for pt in pts])[:, None, :]
        return on, values

    def _wake(self, P, eps, masks, clamps, d, u, gate):
        """Wake phase of every machine: K recognition samples, then the (weighted) delta rules."""
        L = self.circuit.n_hidden_layers
        rule = self.rule
        G, R = P["generative_weights"], P["recognition_weights"]
        gb, rb = P["generative_biases"], P["recognition_biases"]
        gm, rm = masks["generative"], masks["recognition"]
        s, qlog = [d], []
        for k in range(L):  # eq. 1, bottom-up
            x = rb[k] + s[k] @ _masked(R[k], rm[k])
            qlog.append(x)
            st = (u[k] < sigmoid(x)).astype(float)
            if clamps[k + 1] is not None:
                st = np.where(clamps[k + 1][0], clamps[k + 1][1], st)
            s.append(st)
        glog = [gb[l] + s[l + 1] @ _masked(G[l], gm[l]) for l in range(L)] + [gb[L]]
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
        for l in range(L + 1):  # eq. 4 (weighted over the K samples)
            err = s[l] - sigmoid(glog[l])
            if w is not None:
                err = w * err
            gb[l] += e_gb[l] * gate * err.sum(axis=1, keepdims=True)
            if l < L:
                G[l] += e_g[l] * gate * gm[l] * np.einsum("nka,nkb->nab", s[l + 1], err)
                if self.circuit.nonnegative(l):
                    np.maximum(G[l], 0.0, out=G[l])
        if rule.wake_update:  # the wake-phase Q update on real data
            e_rb, e_r = eps["recognition_biases"], eps["recognition_weights"]
            for k in range(L):
                err = w * (s[k + 1] - sigmoid(qlog[k]))
                rb[k] += e_rb[k] * gate * err.sum(axis=1, keepdims=True)
                below = np.broadcast_to(s[k], err.shape[:2] + s[k].shape[2:])
                R[k] += e_r[k] * gate * rm[k] * np.einsum("nka,nkb->nab", below, err)
        return s

    def _sleep(self, P, eps, masks, clamps, u, gate):
        """Sleep phase of every machine: S fantasies top-down (S = 1: the
        papers'), then eq. 7 for each, from the same weights."""
        L = self.circuit.n_hidden_layers
        G, R = P["generative_weights"], P["recognition_weights"]
        gb, rb = P["generative_biases"], P["recognition_biases"]
        gm, rm = masks["generative"], masks["recognition"]
        f = [None] * (L + 1)
        for l in range(L, -1, -1):
            x = gb[l] if l == L else gb[l] + f[l + 1] @ _masked(G[l], gm[l])
            st = (u[l] < sigmoid(x)).astype(float)
            if clamps[l] is not None:
                st = np.where(clamps[l][0], clamps[l][1], st)
            f[l] = st
        if not self.rule.sleep_update:
            return f
        e_rb, e_r = eps["recognition_biases"], eps["recognition_weights"]
        for k in range(L):
            err = f[k + 1] - sigmoid(rb[k] + f[k] @ _masked(R[k], rm[k]))
            rb[k] += e_rb[k] * gate * err.sum(axis=1, keepdims=True)
            R[k] += e_r[k] * gate * rm[k] * np.einsum("nka,nkb->nab", f[k], err)
        return f
