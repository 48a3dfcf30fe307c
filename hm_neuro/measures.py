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
from .files.data import bars_distribution, resolve_data
from .model import (
    Parameters,
    generative_logits,
    log_bernoulli,
    log_bernoulli_pairs,
    log_joint,
    log_recognition,
    recognition_logits,
    sample_recognition,
)
from .seeds import tree

LOG2E = 1.0 / np.log(2.0)
#: largest number of hidden units whose 2**H states are enumerated exactly
MAX_ENUMERATED_HIDDEN = 20
#: most (data row, hidden state) pairs a summary enumerates; beyond this the
#: exact measures are left out (and sampled ones given), as they would take
#: minutes (510 8x8 bars images x 2**20 states: ~9 minutes)
MAX_ENUMERATED_PAIRS = 2**24
#: most (row, sample) pairs a sampled measure draws at once (memory)
MAX_SAMPLED_ROWS = 10_000_000


def description_length(params: Parameters, states) -> np.ndarray:
    """C(alpha, d) in bits (eqs. 2-3) for each row of ``[d, s_1, ..., s_L]``."""
    return -log_joint(params, states) * LOG2E


# ---------------------------------------------------------------- enumeration


def hidden_states(layers) -> list:
    """Every total representation: per hidden layer an array ``(2**H, n_l)``."""
    H = int(sum(layers[1:]))
    if H > MAX_ENUMERATED_HIDDEN:
        raise bad(
            "exact measures",
            f"need <= {MAX_ENUMERATED_HIDDEN} hidden units to enumerate; use the importance-sampled estimate instead",
            H,
        )
    bits = ((np.arange(2**H)[:, None] >> np.arange(H)) & 1).astype(float)
    out, start = [], 0
    for n in layers[1:]:
        out.append(bits[:, start : start + n])
        start += n
    return out


def _exact_tables(params: Parameters, data):
    """ln P(alpha, d) and ln Q(alpha|d) as arrays (n_data, 2**H)."""
    layers = [params.generative_biases[0].size] + [b.size for b in params.generative_biases[1:]]
    hid = hidden_states(layers)
    d = np.atleast_2d(np.asarray(data, dtype=float))
    alpha = [None] + hid  # hidden layers 1..L; the input varies along the other axis
    L = len(hid)
    # eqs. 2-3: the prior of alpha (layers 1..L) does not depend on d ...
    log_prior = sum(log_bernoulli(alpha[l], generative_logits(params, alpha, l)) for l in range(1, L + 1))
    # ... the input factor and Q's first layer pair every d with every alpha
    # (a layer with lateral weights, :mod:`hm_neuro.model.lateral`, adds its own states' input: (N, A, n))
    A0, A1 = params.lateral.get(("generative", 0)), params.lateral.get(("recognition", 1))
    if A0 is None:
        log_lik = log_bernoulli_pairs(d, generative_logits(params, alpha, 0))  # (N, A)
    else:
        log_lik = log_bernoulli(d[:, None, :], generative_logits(params, alpha, 0)[None] + (d @ A0)[:, None, :])
    if A1 is None:
        log_q = log_bernoulli_pairs(hid[0], recognition_logits(params, [d], 0)).T  # (N, A)
    else:
        log_q = log_bernoulli(hid[0][None], recognition_logits(params, [d], 0)[:, None, :] + (hid[0] @ A1)[None])
    for k in range(1, L):
        log_q = log_q + log_bernoulli(alpha[k + 1], recognition_logits(params, alpha, k))
    return log_prior[None, :] + log_lik, log_q


def _logsumexp(a, axis):
    m = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(a - m), axis=axis))


#: most (row, hidden state) entries of one enumerated table: rows are taken
#: in blocks of at most this many entries, so memory stays bounded
MAX_TABLE_ENTRIES = 2**22


def _row_blocks(params: Parameters, data):
    d = np.atleast_2d(np.asarray(data, dtype=float))
    n_states = 2 ** sum(b.size for b in params.generative_biases[1:])
    # a first layer pair with lateral weights makes (rows, states, units) tables
    units = max(
        [1] + [params.lateral[key].shape[0] for key in (("generative", 0), ("recognition", 1)) if key in params.lateral]
    )
    step = max(1, MAX_TABLE_ENTRIES // (n_states * units))
    return [d[i : i + step] for i in range(0, len(d), step)]


def exact_log2_prob(params: Parameters, data) -> np.ndarray:
    """log2 P(d) under the generative model, by enumeration (eq. 4 of Dayan)."""
    return np.concatenate([_logsumexp(_exact_tables(params, d)[0], axis=1) * LOG2E for d in _row_blocks(params, data)])


def exact_free_energy(params: Parameters, data) -> dict:
    """Exact F(d), -log2 P(d) and KL(Q||P) per data row, in bits (eqs. 5, 8)."""
    blocks = [_exact_free_energy(params, d) for d in _row_blocks(params, data)]
    return {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}


def _exact_free_energy(params: Parameters, data) -> dict:
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
    return sample_recognition(params, np.repeat(np.atleast_2d(np.asarray(data, dtype=float)), n_samples, axis=0), rng)


def sampled_free_energy(
    params: Parameters, data, n_samples: int, rng: np.random.Generator, include_entropy: bool = True
) -> np.ndarray:
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


# ------------------------------------------------------------------ summary


def machine_summary(
    params: Parameters,
    circuit,
    data_spec,
    stream=None,
    seed=0,
    p_vertical: float = 2 / 3,
    n_samples: int = 10,
    rows=None,
) -> dict:
    """The papers' measures of a trained machine, in bits, as one dict.

    * ``data_spec == "bars"`` (square input, enumerable hidden states): the
      exact KL(data || model), KL(Q || P), F and -log2 P(d) of the bars
      distribution (note [15]);
    * fixed ``rows`` (or a stream holding them), enumerable: exact mean F,
      -log2 P(d) and KL(Q || P) over them;
    * always, if a ``stream`` is given: ``training_free_energy_bits``, the
      sampled F of 2000 fresh training examples (``n_samples`` recognition
      samples each; what restarts are chosen by -- never the true KL).

    Randomness: the ``selection`` and ``evaluation`` children of ``seed``'s
    tree (:mod:`hm_neuro.seeds`).
    """
    out = {}

    def enumerable(n_rows):
        H = circuit.n_hidden_units
        return H <= MAX_ENUMERATED_HIDDEN and n_rows * 2**H <= MAX_ENUMERATED_PAIRS

    if rows is None and stream is not None and hasattr(stream, "rows"):
        rows = stream.rows
    with np.errstate(all="ignore"):
        patterns = None
        if data_spec == "bars":
            side = int(round(circuit.n_input**0.5))
            patterns, probs = bars_distribution(size=side, p_vertical=p_vertical)
        if patterns is not None and enumerable(len(patterns)):
            out.update(exact_summary(params, patterns, probs))
        elif patterns is None and rows is not None and enumerable(len(rows)):
            fe = exact_free_energy(params, rows)
            out["free_energy_bits"] = float(np.mean(fe["free_energy"]))
            out["neg_log2_prob_bits"] = float(np.mean(fe["neg_log2_prob"]))
            out["kl_q_p_bits"] = float(np.mean(fe["kl_q_p"]))
        if stream is not None:
            node = tree(seed).child("selection")
            rng = node.rng()
            d = stream.take(2000, rng)
            out["training_free_energy_bits"] = float(np.mean(sampled_free_energy(params, d, n_samples, rng)))
    bad_keys = [k for k, v in out.items() if not np.isfinite(v)]
    if bad_keys:
        raise bad(
            "training",
            f"diverged: {bad_keys[0]} is not finite (largest |weight| "
            f"{params.largest_magnitude():.3g}); lower the learning rates",
        )
    return out


def sampled_kl_bits(fantasies, patterns, probabilities) -> float:
    """KL(data || spiking model) in bits, the model's probability of each data
    pattern estimated by its frequency among the fantasies (a pattern never
    sampled counts as half a sample: the estimate is then a lower bound)."""
    n = len(fantasies)
    codes = fantasies.astype(np.int64) @ (1 << np.arange(fantasies.shape[1], dtype=np.int64))
    want = np.asarray(patterns).astype(np.int64) @ (1 << np.arange(np.shape(patterns)[1], dtype=np.int64))
    counts = np.array([np.count_nonzero(codes == c) for c in want], dtype=float)
    q = np.maximum(counts, 0.5) / n
    p = np.asarray(probabilities, dtype=float)
    keep = p > 0
    return float(np.sum(p[keep] * np.log2(p[keep] / q[keep])))


def evaluate_model(params, circuit, data_spec, n_samples, seed, p_vertical=2 / 3):
    """The measures of a model on a data source, as a dict (bits): the exact
    ones of :func:`hm_neuro.machine_summary` where the hidden states
    can be enumerated, and the sampled F and importance-sampled -log2 P(d)."""
    out = {"circuit": circuit.name, "layers": list(circuit.layers)}
    if data_spec == "bars":
        side = int(round(circuit.n_input**0.5))
        if side * side != circuit.n_input:
            raise bad("data", f"bars needs a square input layer; the model has {circuit.n_input} inputs")
        rows, weights = bars_distribution(size=side, p_vertical=p_vertical)
        out["data"] = "bars (exact distribution)"
    else:
        rows, out["data"] = resolve_data(data_spec, circuit.n_input)
        weights = np.full(len(rows), 1.0 / len(rows))
    if len(rows) * n_samples > MAX_SAMPLED_ROWS:
        raise bad(
            "samples",
            f"{len(rows)} data rows x {n_samples} samples is more than {MAX_SAMPLED_ROWS:.0e} sampled states",
            n_samples,
        )
    with np.errstate(all="ignore"):
        out.update(machine_summary(params, circuit, data_spec, rows=rows, p_vertical=p_vertical))
        rng = tree(seed).child("evaluation").rng()
        out["sampled_free_energy_bits"] = float(np.sum(weights * sampled_free_energy(params, rows, n_samples, rng)))
        out["importance_neg_log2_prob_bits"] = float(
            -np.sum(weights * importance_log2_prob(params, rows, n_samples, rng))
        )
    out["n_samples"] = n_samples
    return out


class FloatMeasures:
    """``f(params) -> {name: value}``: the float measures of
    :func:`evaluate_model` on one data source (a protocol's measures,
    :func:`hm_neuro.runs.protocol.run_protocol`)."""

    def __init__(self, circuit, data_spec, seed, n_samples: int = 20):
        self.circuit, self.data_spec, self.seed, self.n_samples = circuit, data_spec, seed, n_samples

    def __call__(self, params) -> dict:
        values = evaluate_model(params, self.circuit, self.data_spec, self.n_samples, self.seed)
        return {k: v for k, v in values.items() if isinstance(v, float)}
