"""The models of the Brian2 circuits: each layer's equations as Brian2
``Equations`` templates, and the code of eqs. 1, 4 and 7.

A layer of the binary circuit is ``binary_layer(...)``: the block
:data:`UNIT` of every unit, :data:`GENERATIVE_TARGET` where generative
weights arrive (every layer but the top), :data:`RECOGNITION_TARGET` in the
hidden layers, and one copy of :data:`WAKE_SAMPLE` per recognition sample
and of :data:`FANTASY` per fantasy (one each for the papers' wake-sleep; K
and S for the rules of :mod:`hm_neuro.model.rules`), the copies made by
Brian2's renaming (``Equations(template, s_wake="s_wake_1", ...)``).  A
spiking unit (:data:`SPIKING_UNIT`) has two compartments made from one
template, :data:`COMPARTMENT`: apical (generative) and basal (recognition).
"""

from __future__ import annotations

import numpy as np
from brian2 import Equations, Function

from ... import philox
from ...model import SIGMOID_CODE
from ...model.precision import GRID_RULES

# ---------------------------------------------------------------- binary units

#: every unit (Hinton et al. 1995, eq. 1: on with probability sigma(bias + input))
UNIT = """
machine : integer (constant)  # which machine of the population the unit belongs to
b_gen : 1                     # generative bias
eps_b_gen : 1                 # its learning rate
clamped : 1                   # 1: the unit is held at clamp_state in both phases
clamp_state : 1
"""

#: a unit's counter-based stream (:mod:`hm_neuro.philox`): its machine's key and its place
STREAM = """
key_lo : integer (constant)   # the machine's stream key, low 32 bits
key_hi : integer (constant)   # ... high 32 bits
unit : integer (constant)     # the unit's index within its machine's layer
step_offset : 1 (constant)    # the examples before the chunk: the stream's step at its start
"""

#: a unit that generative weights reach (every layer but the top)
GENERATIVE_TARGET = """
eps_gen : 1                   # learning rate of the generative weights into the unit
"""

#: a hidden unit: recognition weights reach it
RECOGNITION_TARGET = """
b_rec : 1                     # recognition bias
eps_b_rec : 1                 # its learning rate
eps_rec : 1                   # learning rate of the recognition weights into the unit
"""

#: the predictions of one copy of the unit's state (eq. 1)
PREDICTION = """
p : 1                         # generative probability, eq. 1
"""
RECOGNITION_PREDICTION = """
q : 1                         # recognition probability, eq. 1
"""

#: one wake (recognition) sample of the unit
WAKE_SAMPLE = """
s_wake : 1                    # wake (recognition) sample, eq. 1
"""
#: ... where generative weights arrive: the top-down input and eq. 4's factor
WAKE_GENERATIVE = """
x_gen_wake : 1                # top-down input from the wake sample above
err_gen : 1                   # eps_gen * gate * (s_wake - p): the unit's factor of eq. 4
"""
#: ... in a hidden unit: the bottom-up input
WAKE_RECOGNITION = """
x_rec_wake : 1                # bottom-up input from the wake sample below
"""
#: ... reweighted rules: the wake-phase Q update's factor
WAKE_Q_UPDATE = """
err_rec_wake : 1              # eps_rec * gate * omega * (s_wake - q): the wake-phase Q update
"""
#: ... reweighted rules: the unit's share of the importance weight (eqs. 2-3)
IMPORTANCE_SHARE = """
lp : 1                        # the unit's share of ln P(h, d) - ln Q(h | d)
omega_of_machine : 1 (linked) # the normalised weight of the sample, from the machine's importance neuron
omega : 1                     # its copy, which the synapses can read
"""
IMPORTANCE_SHARE_Q = """
lq : 1                        # ln Q of the unit's sample
"""

#: one fantasy (sleep sample) of the unit
FANTASY = """
s_sleep : 1                   # sleep (fantasy) sample, eq. 1
"""
FANTASY_GENERATIVE = """
x_gen_sleep : 1               # top-down input from the fantasy above
"""
FANTASY_RECOGNITION = """
x_rec_sleep : 1               # bottom-up input from the fantasy below
err_rec : 1                   # eps_rec * gate * (s_sleep - q): the unit's factor of eq. 7
"""


def suffix(c: int) -> str:
    """The name suffix of copy c of a unit's state: s_wake, s_wake_1, ..."""
    return "" if c == 0 else f"_{c}"


def copy(template: str, c: int) -> Equations:
    """Copy c of ``template``: every variable renamed with :func:`suffix`."""
    eqs = Equations(template)
    return eqs if c == 0 else Equations(template, **{name: name + suffix(c) for name in eqs.names})


def binary_layer(
    below: bool, above: bool, samples: int, fantasies: int, wake_update: bool, weighted: bool
) -> Equations:
    """The model of a layer of the binary circuit: ``below``: recognition
    weights arrive (a hidden layer); ``above``: generative weights arrive
    (every layer but the top); K = ``samples`` wake samples and S =
    ``fantasies`` fantasies (copies of the state)."""
    K, S = samples, fantasies
    blocks = [  # (template, copies, present in this layer)
        (GENERATIVE_TARGET, 1, above),
        (RECOGNITION_TARGET, 1, below),
        (PREDICTION, max(K, S), True),
        (RECOGNITION_PREDICTION, max(K, S), below),
        (WAKE_SAMPLE, K, True),
        (WAKE_GENERATIVE, K, above),
        (WAKE_RECOGNITION, K, below),
        (WAKE_Q_UPDATE, K, below and wake_update),
        (IMPORTANCE_SHARE, K, weighted),
        (IMPORTANCE_SHARE_Q, K, below and weighted),
        (FANTASY, S, True),
        (FANTASY_GENERATIVE, S, above),
        (FANTASY_RECOGNITION, S, below),
    ]
    eqs = Equations(UNIT)
    for template, copies, present in blocks:
        for c in range(copies if present else 0):
            eqs += copy(template, c)
    return eqs


#: a layer with ordered lateral connections in one pathway (:mod:`hm_neuro.model.lateral`),
#: renamed per pathway by :func:`lateral_variables` (``gen``: fired in order in the sleep
#: phase, learning in the wake phase; ``rec``: fired in order in the wake phase, learning in
#: the sleep phase) ...
LATERAL = """
rank : integer (constant)     # the unit's place in the layer's firing order
eps_lat : 1                   # learning rate of the lateral weights into the unit
"""
#: ... and per copy of the unit's state (K wake samples, S fantasies: the rules of
#: :mod:`hm_neuro.model.rules`)
LATERAL_COPY = """
xl : 1                        # its logit while the layer fires in order: input so far
thr : 1                       # the logit of its uniform number, ln u - ln(1 - u)
xlat : 1                      # lateral input from the layer's whole sample (the prediction that learns)
err_lat : 1                   # eps_lat * gate * (s - prediction): the unit's factor of the lateral delta rule
"""


def lateral_variables(prefix: str, copies: int = 1) -> Equations:
    """The variables of a layer's lateral connections in a pathway: ``rank_gen``,
    ``xl_gen``, ``xl_gen_1``, ... (``copies`` copies of the per-sample ones)."""
    eqs = Equations(LATERAL, rank=f"rank_{prefix}", eps_lat=f"eps_lat_{prefix}")
    names = ("xl", "thr", "xlat", "err_lat")
    for c in range(copies):
        eqs += Equations(LATERAL_COPY, **{name: f"{name}_{prefix}{suffix(c)}" for name in names})
    return eqs


#: a grid of finite precision (:mod:`hm_neuro.model.precision`), per unit, renamed per
#: pathway by :func:`grid`: ``b_`` the unit's biases, ``gen_`` / ``rec_`` the generative /
#: recognition weights into it
GRID = """
step : 1 (constant)           # the step between neighbouring levels
inv_step : 1 (constant)       # 1 / step
lo : 1 (constant)             # the lowest level (0 for weights kept >= 0)
hi : 1 (constant)             # the highest level
"""


def grid(prefix: str) -> Equations:
    """The variables of a grid: ``{prefix}_step``, ``{prefix}_inv_step``, ``{prefix}_lo``, ``{prefix}_hi``."""
    return Equations(GRID, **{name: f"{prefix}_{name}" for name in ("step", "inv_step", "lo", "hi")})


def on_grid(var: str, dx: str, rounding: str, prefix: str, draw: str = "", suffix: str = "") -> str:
    """``var += dx``, exactly or rounded onto the grid ``prefix`` (read with
    ``suffix``, e.g. ``_post`` in a synapse): the rounding's equation
    (:data:`hm_neuro.model.precision.GRID_RULES`) as code, the stochastic
    rounding's draw ``draw`` (the arguments of :data:`STOCHASTIC_FLOOR`
    after x) -- the equation the NumPy engines evaluate."""
    if rounding == "exact":
        return f"{var} += {dx}"
    names = {name: f"{prefix}_{name}{suffix}" for name in ("step", "inv_step", "lo", "hi")}
    return f"{var} = " + GRID_RULES[rounding].code({**names, "x": var, "dx": f"({dx})"}, lambda c: draw)


#: the synapses of one pathway (recognition: R_jk bottom-up; generative: G_kj top-down)
SYNAPSE = """
w : 1                         # the weight
mask : 1                      # 0: lesioned (silent, does not learn)
"""
#: summed propagation: the input a synapse set delivers to its targets from one state copy
SUMMED_INPUT = "{x}_post = mask * w * {s}_pre : 1 (summed)"

# ---------------------------------------------------------------- spiking units

#: a compartment of a spiking unit: its drive and its prediction, P(fire in a window) = sigma(u)
COMPARTMENT = """
x : 1                         # synaptic input
u = b + x : 1                 # drive
p = 1 - exp(-log1p(exp(u))) : 1  # prediction: P(at least one spike in a window)
"""
#: ... with ordered lateral connections (:mod:`hm_neuro.model.lateral`): the lateral input joins the drive
LATERAL_COMPARTMENT = """
x : 1                         # synaptic input
xlat : 1                      # lateral input, from the units before the unit in the layer's order
rank : integer (constant)     # the unit's place in the order: it fires in the rank-th window of the layer's
eps_lat : 1                   # learning rate of the lateral weights into the unit
u = b + x + xlat : 1          # drive
p = 1 - exp(-log1p(exp(u))) : 1  # prediction: P(at least one spike in a window)
"""

#: every spiking unit
SPIKING_UNIT = """
machine : integer (constant)  # which machine of the population the unit belongs to
fired : 1                     # the unit's state in this phase: fired at least once in its window
b_gen : 1                     # generative bias
eps_b_gen : 1
clamped : 1                   # 1: the unit is held at clamp_state in both phases
clamp_state : 1
"""


def spiking_layer(below: bool, above: bool, delay_steps: int, tau_syn_ms: float, lateral=()) -> Equations:
    """The model of a layer of spiking units: the apical (generative)
    compartment, the basal (recognition) one in hidden layers, an axonal
    delay line of ``delay_steps`` and the synaptic current ``a`` its
    targets see (``tau_syn_ms`` = 0: the held state itself, the bridge);
    ``lateral``: the compartments (``"gen"``, ``"rec"``) with ordered
    lateral connections (``xlat_gen``, ``rank_gen``, ``eps_lat_gen``, ...)."""

    def compartment(c: str) -> Equations:
        names = {"x": f"x_{c}", "u": f"u_{c}", "b": f"b_{c}", "p": f"p_{c}"}
        if c not in lateral:
            return Equations(COMPARTMENT, **names)
        return Equations(LATERAL_COMPARTMENT, **names, **{v: f"{v}_{c}" for v in ("xlat", "rank", "eps_lat")})

    eqs = Equations(SPIKING_UNIT) + compartment("gen")
    if above:
        eqs += Equations(GENERATIVE_TARGET)
    if below:
        eqs += Equations(RECOGNITION_TARGET) + compartment("rec")
    for j in range(1, delay_steps + 1):  # fired_j: the state at the end of the step j steps ago
        eqs += Equations(f"fired_{j} : 1")
    arriving = f"fired_{delay_steps}" if delay_steps else "fired"
    if tau_syn_ms > 0:
        eqs += Equations(f"da/dt = ({arriving} - a) / ({tau_syn_ms}*ms) : 1  # synaptic current carried to targets")
    else:
        eqs += Equations(f"a = {arriving} : 1  # what the targets see: the held state (the bridge)")
    return eqs


# ---------------------------------------------------------------- code of eqs. 1, 4, 7

#: the Cython implementation: the C code itself
_CYTHON = (
    'cdef extern from *:\n    """\n'
    + "".join("    " + line + "\n" for line in philox.C_CODE.strip().splitlines())
    + '    """\n'
    "    double hm_philox_uniform(int key_lo, int key_hi, double step, int unit, int group, int purpose)\n"
)


def _without_unit_checks(f: Function, pyfunc):
    """The numpy target calls ``pyfunc`` itself: Brian2's unit-checking wrapper
    formats the whole result into an error message on every call, which was
    half the time of a numpy-device run (every argument here is a number)."""
    f.implementations.add_numpy_implementation(pyfunc, discard_units=True)


def _philox_function() -> Function:
    """``philox_uniform(key_lo, key_hi, step, unit, group, purpose)``: a Brian2
    ``Function`` with NumPy (:func:`hm_neuro.philox.uniform`), C++ and Cython
    (:data:`hm_neuro.philox.C_CODE`) implementations."""
    f = Function(
        philox.uniform,
        arg_units=[1] * 6,
        return_unit=1,
        arg_types=["integer", "integer", "float", "integer", "integer", "integer"],
        return_type="float",
        stateless=True,
    )
    _without_unit_checks(f, philox.uniform)
    f.implementations.add_implementation("cpp", code=philox.C_CODE, name="hm_philox_uniform")
    f.implementations.add_implementation("cython", code=_CYTHON, name="hm_philox_uniform")
    return f


#: the circuit's uniform numbers (in every run's namespace)
PHILOX = _philox_function()

#: the C of :data:`STOCHASTIC_FLOOR` (after :data:`hm_neuro.philox.C_CODE`, whose guard makes it one copy)
_ROUND_C = (
    philox.C_CODE
    + """
static inline double hm_stochastic_floor(double x, int32_t key_lo, int32_t key_hi, double step,
                                         int32_t unit, int32_t group, int32_t purpose)
{
    double f = floor(x);
    if (x == f) return f;  /* on a level already: no draw can move it, and none is made */
    return floor(x + hm_philox_uniform(key_lo, key_hi, step, unit, group, purpose));
}
"""
)


def _stochastic_floor_numpy(x, key_lo, key_hi, step, unit, group, purpose):
    x = np.asarray(x, dtype=float)
    f = np.floor(x)
    return np.where(x == f, f, np.floor(x + philox.uniform(key_lo, key_hi, step, unit, group, purpose)))


def _stochastic_floor_function() -> Function:
    """``stochastic_floor(x, key_lo, key_hi, step, unit, group, purpose)``:
    ``floor(x + u)`` with the draw's uniform number u, x itself when x is
    whole (the stochastic rounding of :class:`hm_neuro.model.Grid`)."""
    f = Function(
        _stochastic_floor_numpy,
        arg_units=[1] * 7,
        return_unit=1,
        arg_types=["float", "integer", "integer", "float", "integer", "integer", "integer"],
        return_type="float",
        stateless=True,
    )
    cython = (
        'cdef extern from *:\n    """\n'
        + "".join("    " + line + "\n" for line in _ROUND_C.strip().splitlines())
        + '    """\n'
        "    double hm_stochastic_floor(double x, int key_lo, int key_hi, double step, int unit, int group, "
        "int purpose)\n"
    )
    _without_unit_checks(f, _stochastic_floor_numpy)
    f.implementations.add_implementation("cpp", code=_ROUND_C, name="hm_stochastic_floor")
    f.implementations.add_implementation("cython", code=cython, name="hm_stochastic_floor")
    return f


#: the stochastic rounding of finite-precision updates (in every run's namespace)
STOCHASTIC_FLOOR = _stochastic_floor_function()


def stream_uniform(group, purpose: int, step: str = "step_offset + t_in_timesteps") -> str:
    """The uniform number of a unit's draw (:mod:`hm_neuro.philox`): by
    default the stream's step is the example, the chunk's offset plus the
    clock step (one step per example)."""
    return f"philox_uniform(key_lo, key_hi, {step}, unit, {group}, {purpose})"


def sigmoid(x: str) -> str:
    """Eq. 1 as Brian2 code (:data:`hm_neuro.model.SIGMOID_CODE`)."""
    return SIGMOID_CODE.format(x=x)


def log_sigmoid(x: str) -> str:
    """ln sigma(x) as Brian2 code, finite for any finite x (:func:`hm_neuro.model.log_sigmoid`)."""
    return f"(clip({x}, -inf, 0) - log1p(exp(-abs({x}))))"


def sampled(uniform: str, probability: str) -> str:
    """Eq. 1 sampled, or the clamp where the unit is clamped."""
    return f"clamped * clamp_state + (1 - clamped) * int({uniform} < {probability})"


def copies_sum(term: str, copies: int, weight: str | None = None) -> str:
    """Brian2 code of ``term`` summed over the copies c of a unit's state
    (``{c}`` becomes the copy's suffix), each times ``weight`` if given; one
    copy: the term alone."""
    terms = [(weight.format(c=suffix(c)) + " * " if weight else "") + term.format(c=suffix(c)) for c in range(copies)]
    return terms[0] if copies == 1 else "(" + " + ".join(terms) + ")"


def factors(var: str, rate: str, factor: str, copies: int, weight: str | None = None) -> str:
    """The code of a unit's factor of a rule for each copy c of its state:
    ``var_c = rate [* weight_c] * factor_c`` (``factor``: code with ``{c}``
    for the copy's suffix; the papers' delta rule: ``(s{c} - p{c})``), one
    line each (the synapses multiply it by their presynaptic state)."""
    w = (lambda x: f" * {weight}{x}") if weight else (lambda x: "")
    return "".join(f"\n{var}{x} = {rate}{w(x)} * {factor.format(c=x)}" for x in map(suffix, range(copies)))


def delta_rule(dw: str, nonnegative: bool, rounding: str = "exact", prefix: str = "", draw: str = "") -> str:
    """A synapse's delta rule ``w += dw`` (eqs. 4 and 7), kept >= 0 where the
    circuit says so; of finite precision, rounded onto the grid ``prefix``
    of the postsynaptic unit (:func:`on_grid`; a grid's lowest level is 0
    where weights are kept >= 0)."""
    if rounding != "exact":
        return on_grid("w", dw, rounding, prefix, draw, suffix="_post")
    return f"w = clip(w + {dw}, 0, inf)" if nonnegative else f"w += {dw}"


def bias_rule(var: str, db: str, rounding: str = "exact", draw: str = "") -> str:
    """A bias's delta rule ``var += db`` (eqs. 4 and 7), of finite precision on the unit's grid ``b``."""
    return on_grid(var, db, rounding, "b", draw)


def rounding_draw(group: int, purpose: int, step: str, unit: str = "unit", pre: str = "") -> str:
    """The arguments of a stochastic rounding's draw after x: the machine's
    key (a synapse reads it from its presynaptic unit, ``pre='_pre'``), the
    stream's step, the parameter's index in its set and the set's group."""
    return f"key_lo{pre}, key_hi{pre}, {step}, {unit}, {group}, {purpose}"
