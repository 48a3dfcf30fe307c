"""The NumPy reference: the stochastic Helmholtz machine and wake-sleep learning.

Plain, readable and slow on purpose: this module is the yardstick the Brian2
circuit (:mod:`hm_neuro.brian2_engine`) is held to.  Layer 0 is the input,
layer ``L`` the top; the parameter layout is the one of :mod:`hm_neuro.circuit`.

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
``s = int(u < p)``.  Per example the draws are consumed in a fixed order --
``wake[l]`` for hidden layers ``l = 1..L`` and ``sleep[l]`` for ``l = 0..L`` --
so an engine fed the same :class:`Uniforms` produces the same samples.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .circuit import Circuit


def sigmoid(x):
    """Eq. 1: the probability that a binary stochastic unit is on.

    Written as ``1 / (1 + exp(-x))`` like the Brian2 code, so that both engines
    round alike; finite for any finite input (exp overflow gives exactly 0;
    :func:`train` silences NumPy's overflow warning once for its whole loop).
    """
    return 1.0 / (1.0 + np.exp(-x))


@dataclasses.dataclass
class Parameters:
    """Weights and biases of one machine (layout of :mod:`hm_neuro.circuit`)."""

    generative_weights: list
    recognition_weights: list
    generative_biases: list
    recognition_biases: list

    @classmethod
    def initial(cls, circuit: Circuit) -> "Parameters":
        n, iv = circuit.layers, circuit.initial_values
        L = len(n) - 1
        return cls(
            generative_weights=[np.full(circuit.weight_shape("generative", k), iv["generative_weights"][k])
                                for k in range(L)],
            recognition_weights=[np.full(circuit.weight_shape("recognition", k), iv["recognition_weights"][k])
                                 for k in range(L)],
            generative_biases=[np.full(n[l], iv["generative_biases"][l]) for l in range(L + 1)],
            recognition_biases=[np.full(n[k + 1], iv["recognition_biases"][k]) for k in range(L)],
        )

    def copy(self) -> "Parameters":
        return Parameters(*[[a.copy() for a in getattr(self, f.name)] for f in dataclasses.fields(self)])

    def arrays(self) -> dict:
        """Flat ``{'generative_weights_0': array, ...}`` mapping (model-file keys)."""
        return {f"{f.name}_{i}": a for f in dataclasses.fields(self) for i, a in enumerate(getattr(self, f.name))}

    @classmethod
    def from_arrays(cls, arrays: dict, circuit: Circuit) -> "Parameters":
        """Inverse of :meth:`arrays`; flat arrays (weight history rows) are
        reshaped to the circuit's shapes, so sizes must match."""
        template = cls.initial(circuit)
        return cls(*[[np.array(arrays[f"{f.name}_{i}"], dtype=float).reshape(a.shape)
                      for i, a in enumerate(getattr(template, f.name))]
                     for f in dataclasses.fields(cls)])

    def max_abs_difference(self, other: "Parameters") -> float:
        return max(float(np.max(np.abs(a - b))) for a, b in zip(self.arrays().values(), other.arrays().values()))

    def all_finite(self) -> bool:
        return all(np.all(np.isfinite(a)) for a in self.arrays().values())


@dataclasses.dataclass
class Uniforms:
    """Pre-drawn uniform numbers for ``n`` training examples.

    ``wake[l - 1]`` has shape ``(n, layers[l])`` for hidden layers l = 1..L;
    ``sleep[l]`` has shape ``(n, layers[l])`` for l = 0..L.
    """

    wake: list
    sleep: list

    @classmethod
    def draw(cls, circuit: Circuit, n: int, rng: np.random.Generator) -> "Uniforms":
        layers = circuit.layers
        return cls(wake=[rng.random((n, m)) for m in layers[1:]],
                   sleep=[rng.random((n, m)) for m in layers])


@dataclasses.dataclass
class Perturbation:
    """Lesions and clamps of a cortical-model experiment (both engines obey it).

    ``lesions``: ``{("generative" | "recognition", k): mask}`` with ``mask`` of
    the weight set's shape; a synapse with mask 0 carries no input and does
    not learn (silenced).  ``clamps``: ``{layer: state}``, a 0/1 vector the
    layer is held at in both phases (for layer 0 in the wake phase the data
    wins).
    """

    lesions: dict = dataclasses.field(default_factory=dict)
    clamps: dict = dataclasses.field(default_factory=dict)

    def mask(self, kind: str, k: int):
        """The 0/1 mask of a synapse set, or the scalar 1.0 if it is intact."""
        m = self.lesions.get((kind, k))
        return 1.0 if m is None else np.asarray(m, dtype=float)

    def lesioned(self, params: "Parameters") -> "Parameters":
        """A copy of ``params`` with lesioned synapses at 0 (for measuring a lesioned machine)."""
        out = params.copy()
        for (kind, k), m in self.lesions.items():
            getattr(out, f"{kind}_weights")[k] *= np.asarray(m, dtype=float)
        return out

    def validate(self, circuit: Circuit):
        from .errors import bad

        L = circuit.n_hidden_layers
        n = circuit.layers
        for (kind, k), m in self.lesions.items():
            if kind not in ("generative", "recognition") or not (isinstance(k, int) and 0 <= k < L):
                raise bad("lesion", f"no synapse set {kind}_{k}; sets are generative_0..{L - 1} and "
                          f"recognition_0..{L - 1}")
            shape = circuit.weight_shape(kind, k)
            if np.shape(m) != shape or not np.all((np.asarray(m) == 0) | (np.asarray(m) == 1)):
                raise bad(f"lesion {kind}_{k}", f"mask must be 0/1 of shape {shape}", np.shape(m))
        for l, state in self.clamps.items():
            if not (isinstance(l, int) and 0 <= l <= L):
                raise bad("clamp", f"no layer {l}; layers are 0..{L}")
            if np.shape(state) != (n[l],) or not np.all((np.asarray(state) == 0) | (np.asarray(state) == 1)):
                raise bad(f"clamp of layer {l}", f"state must be {n[l]} zeros and ones", np.shape(state))
        return self


NO_PERTURBATION = Perturbation()


def _masked(w, mask):
    return w if isinstance(mask, float) else w * mask


def generative_predictions(params: Parameters, states: list, masks=None) -> list:
    """p_l for every layer l, from the states of the layer above (eq. 1)."""
    L = len(states) - 1
    p = [None] * (L + 1)
    p[L] = sigmoid(params.generative_biases[L]) * np.ones_like(states[L], dtype=float)
    for k in range(L):
        G = params.generative_weights[k] if masks is None else _masked(params.generative_weights[k], masks[k])
        p[k] = sigmoid(params.generative_biases[k] + states[k + 1] @ G)
    return p


def recognition_predictions(params: Parameters, states: list, masks=None) -> list:
    """q_l for hidden layers l = 1..L (index l-1), from the layer below (eq. 1)."""
    return [sigmoid(params.recognition_biases[k]
                    + states[k] @ (params.recognition_weights[k] if masks is None
                                   else _masked(params.recognition_weights[k], masks[k])))
            for k in range(len(states) - 1)]


def wake_phase(params: Parameters, circuit: Circuit, d, u_wake, gate=1.0,
               perturbation: Perturbation = NO_PERTURBATION) -> list:
    """One wake phase; returns the total representation [d, s_1, ..., s_L].

    Recognition sample bottom-up, then the delta rule on the generative
    weights and biases (Hinton et al. 1995, eq. 4).
    """
    L = circuit.n_hidden_layers
    pt = perturbation
    s = [np.asarray(d, dtype=float)]
    for k in range(L):
        R = _masked(params.recognition_weights[k], pt.mask("recognition", k))
        q = sigmoid(params.recognition_biases[k] + s[k] @ R)
        s.append((u_wake[k] < q).astype(float) if k + 1 not in pt.clamps else np.asarray(pt.clamps[k + 1], float))
    masks = [pt.mask("generative", k) for k in range(L)]
    p = generative_predictions(params, s, masks)
    eps = circuit.learning_rates
    for l in range(L + 1):
        params.generative_biases[l] += eps["generative_biases"][l] * gate * (s[l] - p[l])
    for k in range(L):
        w = params.generative_weights[k]
        w += eps["generative_weights"][k] * gate * masks[k] * np.outer(s[k + 1], s[k] - p[k])  # eq. 4
        if circuit.nonnegative(k):
            np.maximum(w, 0.0, out=w)
    return s


def sleep_phase(params: Parameters, circuit: Circuit, u_sleep, gate=1.0,
                perturbation: Perturbation = NO_PERTURBATION) -> list:
    """One sleep phase; returns the fantasy [d*, s*_1, ..., s*_L].

    Fantasy top-down from the generative model, then the delta rule on the
    recognition weights and biases (Hinton et al. 1995, eq. 7).
    """
    L = circuit.n_hidden_layers
    pt = perturbation
    f = [None] * (L + 1)
    for l in range(L, -1, -1):
        if l in pt.clamps:
            f[l] = np.asarray(pt.clamps[l], dtype=float)
            continue
        drive = params.generative_biases[l]
        if l < L:
            G = _masked(params.generative_weights[l], pt.mask("generative", l))
            drive = drive + f[l + 1] @ G
        f[l] = (u_sleep[l] < sigmoid(drive)).astype(float)
    masks = [pt.mask("recognition", k) for k in range(L)]
    q = recognition_predictions(params, f, masks)
    eps = circuit.learning_rates
    for k in range(L):
        params.recognition_biases[k] += eps["recognition_biases"][k] * gate * (f[k + 1] - q[k])
        params.recognition_weights[k] += (eps["recognition_weights"][k] * gate * masks[k]
                                          * np.outer(f[k], f[k + 1] - q[k]))  # eq. 7
    return f


def train(params: Parameters, circuit: Circuit, data, uniforms: Uniforms,
          wake_gate=None, sleep_gate=None, record_samples=False,
          perturbation: Perturbation = NO_PERTURBATION):
    """Online wake-sleep on the rows of ``data``, one example per row, in place.

    ``wake_gate`` / ``sleep_gate``: optional per-example multipliers of the
    wake and sleep learning rates (1 = learn, 0 = sample only).
    ``perturbation``: lesions and clamps (:class:`Perturbation`).  With
    ``record_samples`` returns ``(wake_states, sleep_states)``: per layer an
    array ``(n_examples, n_units)`` of the sampled states.
    """
    n = len(data)
    wg = np.ones(n) if wake_gate is None else wake_gate
    sg = np.ones(n) if sleep_gate is None else sleep_gate
    rec_w = [np.empty((n, m)) for m in circuit.layers] if record_samples else None
    rec_s = [np.empty((n, m)) for m in circuit.layers] if record_samples else None
    with np.errstate(over="ignore"):
        return _train_loop(params, circuit, data, uniforms, wg, sg, rec_w, rec_s, perturbation)


def _train_loop(params, circuit, data, uniforms, wg, sg, rec_w, rec_s, perturbation):
    L = circuit.n_hidden_layers
    record_samples = rec_w is not None
    for t in range(len(data)):
        s = wake_phase(params, circuit, data[t], [u[t] for u in uniforms.wake], wg[t], perturbation)
        f = sleep_phase(params, circuit, [u[t] for u in uniforms.sleep], sg[t], perturbation)
        if record_samples:
            for l in range(L + 1):
                rec_w[l][t] = s[l]
                rec_s[l][t] = f[l]
    return (rec_w, rec_s) if record_samples else None


@np.errstate(over="ignore")
def sample_recognition(params: Parameters, data, rng: np.random.Generator) -> list:
    """One recognition sample per data row (vectorised over rows)."""
    s = [np.asarray(data, dtype=float)]
    for k in range(len(params.recognition_weights)):
        q = sigmoid(params.recognition_biases[k] + s[k] @ params.recognition_weights[k])
        s.append((rng.random(q.shape) < q).astype(float))
    return s


@np.errstate(over="ignore")
def sample_fantasies(params: Parameters, n: int, rng: np.random.Generator) -> list:
    """``n`` independent fantasies from the generative model, [d*, ..., s*_L]."""
    L = len(params.generative_weights)
    f = [None] * (L + 1)
    pt = sigmoid(params.generative_biases[L])
    f[L] = (rng.random((n, pt.size)) < pt).astype(float)
    for k in range(L - 1, -1, -1):
        p = sigmoid(params.generative_biases[k] + f[k + 1] @ params.generative_weights[k])
        f[k] = (rng.random(p.shape) < p).astype(float)
    return f
