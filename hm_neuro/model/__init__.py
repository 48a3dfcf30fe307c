"""What a Helmholtz machine *is*, apart from how it is simulated.

Declarations only -- the circuit (:mod:`.circuit`), its learning rules
(:mod:`.rules`), its spiking dynamics (:mod:`.dynamics`), the precision of
its synapses (:mod:`.precision`), its plasticity as equations (:mod:`.plasticity`) -- and the papers'
conditionals in NumPy (:mod:`.machine`: eqs. 1-3, parameters, uniforms,
perturbations).  Nothing here imports an engine or Brian2; the engines
(:mod:`hm_neuro.engines`) import this.
"""

from .circuit import MAX_UNITS_PER_LAYER, MAX_WEIGHTS, PARAMETER_SETS, Circuit, load_circuit
from .dynamics import ESCAPES, Spiking, window_probability
from .lateral import NO_LATERAL, PATHWAYS, Lateral, LateralLayer, sample_in_order
from .machine import (
    DIVERGENCE_BOUND,
    NO_PERTURBATION,
    SIGMOID_CODE,
    Parameters,
    Perturbation,
    Uniforms,
    diverged,
    generative_logits,
    lateral_key,
    log_bernoulli,
    log_bernoulli_pairs,
    log_joint,
    log_recognition,
    log_sigmoid,
    recognition_logits,
    sample,
    sample_fantasies,
    sample_layer,
    sample_recognition,
    sigmoid,
)
from .plasticity import DELTA_RULE, Plasticity, StateVariable, draw_group, draws_of, state_name
from .precision import EXACT, PRESETS, ROUNDINGS, Grid, Precision, Rounding, rounding_group
from .rules import MAX_SAMPLES, WAKE_SLEEP, Rule

__all__ = [
    "Circuit",
    "load_circuit",
    "PARAMETER_SETS",
    "MAX_UNITS_PER_LAYER",
    "MAX_WEIGHTS",
    "Spiking",
    "window_probability",
    "ESCAPES",
    "Plasticity",
    "StateVariable",
    "state_name",
    "draw_group",
    "draws_of",
    "DELTA_RULE",
    "Grid",
    "Precision",
    "EXACT",
    "PRESETS",
    "ROUNDINGS",
    "Rounding",
    "rounding_group",
    "Rule",
    "WAKE_SLEEP",
    "MAX_SAMPLES",
    "Parameters",
    "Uniforms",
    "Perturbation",
    "NO_PERTURBATION",
    "diverged",
    "DIVERGENCE_BOUND",
    "SIGMOID_CODE",
    "sigmoid",
    "sample",
    "log_sigmoid",
    "log_bernoulli",
    "log_bernoulli_pairs",
    "log_joint",
    "log_recognition",
    "generative_logits",
    "recognition_logits",
    "sample_recognition",
    "sample_fantasies",
    "sample_layer",
    "sample_in_order",
    "lateral_key",
    "Lateral",
    "LateralLayer",
    "NO_LATERAL",
    "PATHWAYS",
]
