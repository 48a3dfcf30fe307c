"""The papers' measures, all in bits.

Notation of Hinton et al. (1995): alpha is a total representation (the states
of all hidden layers), d an input vector, P the generative model, Q the
recognition model.

* description length ``C(alpha, d) = -log2 P(alpha, d)``        (eqs. 2-3)
* Helmholtz free energy ``F(d) = sum_alpha Q(alpha|d) [C(alpha, d) + log2 Q(alpha|d)]``  (eq. 5)
* ``F(d) = -log2 P(d) + KL(Q(.|d) || P(.|d))``                  (eq. 8)
* the asymmetric divergence ``KL(data || model) = sum_d P*(d) log2 (P*(d) / P(d))``
  (0.10 bits on bars, note [15]).

Exact versions enumerate every hidden state (up to :data:`MAX_ENUMERATED_HIDDEN`
hidden units); sampled versions use the recognition model, as the papers do.
Everything is computed from logits with ``logaddexp`` so that weights of
+-1e3 give finite numbers.
"""

from __future__ import annotations

import numpy as np

from .errors import bad
from .reference import Parameters

LOG2E = 1.0 / np.log(2.0)
#: largest number of hidden units whose 2**H states are enumerated exactly
MAX_ENUMERATED_HIDDEN = 20


def _log_sigmoid(x):
    """log sigma(x), natural log, stable for large |x|."""
    return -np.logaddexp(0.0, -x)


def _log_bernoulli(s, logits):
    """Sum over the last axis of log P(s) for units on with prob sigma(logits)."""
    return np.sum(s * _log_sigmoid(logits) + (1.0 - s) * _log_sigmoid(-logits), axis=-1)


def log_joint(params: Parameters, states) -> np.ndarray:
    """ln P(alpha, d) for rows of states ``[d, s_1, ..., s_L]`` (natural log)."""
    L = len(states) - 1
    out = _log_bernoulli(states[L], np.broadcast_to(params.generative_biases[L], states[L].shape))
    for k in range(L):
        out = out + _log_bernoulli(states[k], params.generative_biases[k] + states[k + 1] @ params.generative_weights[k])
    return out


def log_recognition(params: Parameters, states) -> np.ndarray:
    """ln Q(alpha | d) for rows of states ``[d, s_1, ..., s_L]`` (natural log)."""
    out = 0.0
    for k in range(len(states) - 1):
        out = out + _log_bernoulli(states[k + 1], params.recognition_biases[k] + states[k] @ params.recognition_weights[k])
    return out


def description_length(params: Parameters, states) -> np.ndarray:
    """C(alpha, d) in bits (eqs. 2-3) for each row of ``[d, s_1, ..., s_L]``."""
    return -log_joint(params, states) * LOG2E


# ---------------------------------------------------------------- enumeration

def hidden_states(layers) -> list:
    """Every total representation: per hidden layer an array ``(2**H, n_l)``."""
    H = int(sum(layers[1:]))
    if H > MAX_ENUMERATED_HIDDEN:
        raise bad("exact measures", f"need <= {MAX_ENUMERATED_HIDDEN} hidden units to enumerate; "
                  "use the importance-sampled estimate instead", H)
    bits = ((np.arange(2 ** H)[:, None] >> np.arange(H)) & 1).astype(float)
    out, start = [], 0
    for n in layers[1:]:
        out.append(bits[:, start:start + n])
        start += n
    return out


def _exact_tables(params: Parameters, data):
    """ln P(alpha, d) and ln Q(alpha|d) as arrays (n_data, 2**H)."""
    layers = [params.generative_biases[0].size] + [b.size for b in params.generative_biases[1:]]
    hid = hidden_states(layers)
    d = np.atleast_2d(np.asarray(data, dtype=float))
    L = len(hid)
    # prior over alpha: layers 1..L (independent of d)
    log_prior = _log_bernoulli(hid[L - 1], np.broadcast_to(params.generative_biases[L], hid[L - 1].shape))
    for k in range(1, L):
        log_prior = log_prior + _log_bernoulli(hid[k - 1], params.generative_biases[k] + hid[k] @ params.generative_weights[k])
    x = params.generative_biases[0] + hid[0] @ params.generative_weights[0]          # (A, n0)
    log_lik = d @ _log_sigmoid(x).T + (1.0 - d) @ _log_sigmoid(-x).T                   # (N, A)
    r = params.recognition_biases[0] + d @ params.recognition_weights[0]            # (N, n1)
    log_q = _log_sigmoid(r) @ hid[0].T + _log_sigmoid(-r) @ (1.0 - hid[0]).T        # (N, A)
    for k in range(1, L):
        log_q = log_q + _log_bernoulli(hid[k], params.recognition_biases[k] + hid[k - 1] @ params.recognition_weights[k])
    return log_prior[None, :] + log_lik, log_q


def _logsumexp(a, axis):
    m = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(a - m), axis=axis))


def exact_log2_prob(params: Parameters, data) -> np.ndarray:
    """log2 P(d) under the generative model, by enumeration (eq. 4 of Dayan)."""
    log_pj, _ = _exact_tables(params, data)
    return _logsumexp(log_pj, axis=1) * LOG2E


def exact_free_energy(params: Parameters, data) -> dict:
    """Exact F(d), -log2 P(d) and KL(Q||P) per data row, in bits (eqs. 5, 8)."""
    log_pj, log_q = _exact_tables(params, data)
    q = np.exp(log_q)
    with np.errstate(invalid="ignore"):
        terms = np.where(q > 0, q * (log_q - log_pj), 0.0)
    F = np.sum(terms, axis=1) * LOG2E
    neg_log_p = -_logsumexp(log_pj, axis=1) * LOG2E
    return {"free_energy": F, "neg_log2_prob": neg_log_p, "kl_q_p": np.maximum(F - neg_log_p, 0.0)}


def kl_data_model(params: Parameters, patterns, probabilities) -> float:
    """KL(data || model) in bits, exact: the paper's asymmetric divergence."""
    probabilities = np.asarray(probabilities, dtype=float)
    log2_p = exact_log2_prob(params, patterns)
    keep = probabilities > 0
    return float(np.sum(probabilities[keep] * (np.log2(probabilities[keep]) - log2_p[keep])))


def exact_summary(params: Parameters, patterns, probabilities) -> dict:
    """The bars numbers of note [15]: KL(data||model) and the eq. 8 penalty.

    The penalty is averaged over the data distribution,
    ``sum_d P*(d) KL(Q(.|d) || P(.|d))``.
    """
    probabilities = np.asarray(probabilities, dtype=float)
    fe = exact_free_energy(params, patterns)
    keep = probabilities > 0
    entropy = -float(np.sum(probabilities[keep] * np.log2(probabilities[keep])))
    return {
        "kl_data_model_bits": float(np.sum(probabilities[keep] * fe["neg_log2_prob"][keep])) - entropy,
        "kl_q_p_bits": float(np.sum(probabilities * fe["kl_q_p"])),
        "free_energy_bits": float(np.sum(probabilities * fe["free_energy"])),
        "neg_log2_prob_bits": float(np.sum(probabilities * fe["neg_log2_prob"])),
        "data_entropy_bits": entropy,
    }


# ------------------------------------------------------------------- sampling

def _recognition_samples(params: Parameters, data, n_samples, rng):
    """Rows ``data`` repeated n_samples times, each with one recognition sample."""
    d = np.repeat(np.atleast_2d(np.asarray(data, dtype=float)), n_samples, axis=0)
    states = [d]
    for k in range(len(params.recognition_weights)):
        logits = params.recognition_biases[k] + states[k] @ params.recognition_weights[k]
        states.append((rng.random(logits.shape) < 1.0 / (1.0 + np.exp(-np.clip(logits, -700, 700)))).astype(float))
    return states


def sampled_free_energy(params: Parameters, data, n_samples: int, rng: np.random.Generator,
                        include_entropy: bool = True) -> np.ndarray:
    """Monte-Carlo F(d) in bits from ``n_samples`` recognition samples per row.

    With ``include_entropy=False`` returns the expected description length
    ``E_Q[C(alpha, d)]`` (eq. 5 without its entropy term).
    """
    if n_samples < 1:
        raise bad("n_samples", "must be >= 1", n_samples)
    n = len(np.atleast_2d(data))
    states = _recognition_samples(params, data, n_samples, rng)
    cost = -log_joint(params, states)
    if include_entropy:
        cost = cost + log_recognition(params, states)
    return cost.reshape(n, n_samples).mean(axis=1) * LOG2E


def importance_log2_prob(params: Parameters, data, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """log2 P(d) estimated with the recognition model as proposal.

    ``log P(d) ~ log mean_k P(alpha_k, d) / Q(alpha_k | d)``, alpha_k ~ Q(.|d).
    A lower bound in expectation that tightens as ``n_samples`` grows.
    """
    if n_samples < 1:
        raise bad("n_samples", "must be >= 1", n_samples)
    n = len(np.atleast_2d(data))
    states = _recognition_samples(params, data, n_samples, rng)
    w = (log_joint(params, states) - log_recognition(params, states)).reshape(n, n_samples)
    return (_logsumexp(w, axis=1) - np.log(n_samples)) * LOG2E
