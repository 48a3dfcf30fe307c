"""The synapses of the precision experiment (:mod:`hm_neuro.experiments.precision`):
grids of a few bits over one range or a range per weight set, and synapse
models declared as equations (:mod:`hm_neuro.model.plasticity`) that express
26 levels (4.7 bits) and keep a hidden state -- a bounded accumulator, a
Benna-Fusi chain, several contacts -- with the statistics that compare
their success rates."""

from __future__ import annotations

from ..checks import Integer, check
from ..errors import HMError
from ..model import Grid, Plasticity, Precision

#: the weights' range: the bars machine's float64 weights stay within ~[-4, 18]
WEIGHT_RANGE = (-16.0, 16.0)


def grid_precision(bits: float, rounding: str) -> Precision:
    """Both pathways on one grid of ``bits`` over :data:`WEIGHT_RANGE`; biases float64."""
    g = Grid(bits, WEIGHT_RANGE, rounding)
    return Precision(g, g, None, name=f"{bits:g}-bit {rounding}")


#: per-layer ranges of the bars machine's weight sets (G1 into the input, G2 into
#: the first hidden layer; R1 out of the input, R2 into the top): the float64
#: weights of the shipped models (G1 0.8..18.6, G2 -4.0..3.1, R1 -2.4..10.6,
#: R2 -3.5..2.8) with a margin, so the 26 levels of 4.7 bits serve the weights
#: that exist (the one [-16, 16] grid gives G1 14 levels, the top ~7)
PER_LAYER_RANGES = {"generative": ((0.0, 20.0), (-5.0, 5.0)), "recognition": ((-3.0, 11.0), (-5.0, 5.0))}


def per_layer_precision(bits: float, rounding: str) -> Precision:
    """Each weight set on its own grid of ``bits`` over :data:`PER_LAYER_RANGES`; biases float64."""
    grids = {k: [Grid(bits, r, rounding) for r in ranges] for k, ranges in PER_LAYER_RANGES.items()}
    return Precision(grids["generative"], grids["recognition"], None, name=f"{bits:g}-bit per-layer {rounding}")


#: the expressed levels of the hidden-state synapses: Bartol et al.'s 26 (4.7 bits)
EXPRESSED_BITS = 4.7


#: the Benna-Fusi chain's coupling g_12 and the hidden variable's capacity C_2
#: (C_1 = 1): u2 follows u1 at g / c2 = 0.025 per learning event
BF_COUPLING, BF_CAPACITY = 0.05, 2.0


def _per_set(values: dict) -> dict:
    """{constant: per-set table} from {(kind, k): {constant: value}} of every layer."""
    names = next(iter(values.values()))
    layers = 1 + max(k for _, k in values)
    return {
        c: {f"{kind}_weights": [values[(kind, k)][c] for k in range(layers)] for kind in ("generative", "recognition")}
        for c in names
    }


def _grid_constants(bits: float, divide: int = 1, ranges=None) -> dict:
    """Per weight set: the step and the lowest and highest level of a ``bits`` grid
    (:class:`hm_neuro.model.Grid`) over its range (``ranges``, default
    :data:`PER_LAYER_RANGES`) / ``divide``."""
    out = {}
    for kind, spans in (ranges or PER_LAYER_RANGES).items():
        for k, (lo, hi) in enumerate(spans):
            g = Grid(bits, (lo / divide, hi / divide), "stochastic")
            low, high = g.bounds()
            out[(kind, k)] = {"step": g.step, "lo": low, "hi": high}
    return out


def hidden_accumulator(hidden_bits: float | None, ranges=None) -> Plasticity:
    """A synapse of :data:`EXPRESSED_BITS` expressed levels over its layer's
    range (``ranges``, default the bars machine's :data:`PER_LAYER_RANGES`)
    that keeps a hidden value of ``hidden_bits`` over the same range,
    stochastically rounded (``None``: a float64 hidden value, the shadow
    weight of hardware); the nearest expressed level of the hidden value is
    the weight.  Total state: ``hidden_bits`` per synapse (the expressed
    level is a function of it)."""
    shown = _grid_constants(EXPRESSED_BITS, ranges=ranges)
    constants = {"step": 0, "lo": 0, "hi": 0}
    values = {key: {c: v[c] for c in constants} for key, v in shown.items()}
    if hidden_bits is None:
        update = "clip(h + dw, lo, hi)"
    else:
        hidden = _grid_constants(hidden_bits, ranges=ranges)
        for key, v in hidden.items():
            values[key].update(hstep=v["step"])
        update = "clip(hstep * stochastic_round((h + dw) / hstep), lo, hi)"
    return Plasticity(
        expressed="clip(step * floor(h / step + 0.5), lo, hi)",
        state={"h": {"init": "w", "update": update}},
        constants=_per_set(values),
        name=f"{'float64' if hidden_bits is None else f'{hidden_bits:g}-bit'} hidden value, 26 levels expressed",
    )


def contacts(m: int) -> Plasticity:
    """A connection of ``m`` contacts, each a synapse of :data:`EXPRESSED_BITS`
    levels over its layer's range / m, each taking dw / m with its own
    stochastic rounding; the weight is their sum (total state m x 4.7 bits)."""
    m = check("contacts", m, Integer(1, 64))
    values = _grid_constants(EXPRESSED_BITS, m)
    state = {
        f"c{i}": {"init": f"w / {m}", "update": f"clip(step * stochastic_round((c{i} + dw / {m}) / step), lo, hi)"}
        for i in range(m)
    }
    return Plasticity(
        expressed=" + ".join(state), state=state, constants=_per_set(values), name=f"{m} contacts of 26 levels"
    )


def benna_fusi(total_bits: float, g: float = BF_COUPLING, c2: float = BF_CAPACITY) -> Plasticity:
    """A two-variable chain of Benna & Fusi (2016) on grids: the visible
    ``u1`` (:data:`EXPRESSED_BITS` levels over its layer's range, the
    weight) takes the update and relaxes towards the slower hidden ``u2``
    (``total_bits - 4.7`` bits over the same range), which follows ``u1``
    at rate ``g / c2``; both stochastically rounded onto their grids, so
    ``u1 + c2 * u2`` moves by ``dw`` in expectation.  Total state
    ``total_bits`` per synapse."""
    hidden_bits = total_bits - EXPRESSED_BITS
    if hidden_bits < 1:
        raise HMError(f"benna_fusi: total_bits must leave the hidden variable at least 1 bit (got {total_bits!r})")
    shown, hidden = _grid_constants(EXPRESSED_BITS), _grid_constants(hidden_bits)
    values = {key: {**v, "hstep": hidden[key]["step"]} for key, v in shown.items()}
    return Plasticity(
        expressed="u1",
        state={
            "u1": {"init": "w", "update": "clip(step * stochastic_round((u1 + dw + g * (u2 - u1)) / step), lo, hi)"},
            "u2": {"init": "w", "update": "clip(hstep * stochastic_round((u2 + g / c2 * (u1 - u2)) / hstep), lo, hi)"},
        },
        constants={**_per_set(values), "g": g, "c2": c2},
        name=f"Benna-Fusi chain of {total_bits:g} bits (u1: 26 levels, u2: {hidden_bits:.1f} bits)",
    )
