"""The Helmholtz machine in real time (a start): stochastic spiking units in
milliseconds, and the exact bridge to the binary machine.

A binary unit of the papers is on with probability ``sigma(u)`` (eq. 1).  A
spiking unit with escape rate ``rho(u) = ln(1 + e^u) / T`` held for a window
of length ``T`` fires at least once in that window with probability

    1 - exp(-rho(u) T) = 1 - 1 / (1 + e^u) = sigma(u),

so the unit's state in a window, defined as "fired at least once", is a
sample of eq. 1.  On a clock of step ``dt`` the exact form of the same
statement is a per-step firing probability ``1 - (1 + e^u)^(-dt/T)``
(``escape="exact"``); the usual ``rho(u) dt`` (``escape="rate"``, Brian2's
``rand() < rho*dt`` idiom) is its first-order approximation and biases the
window's probability upward by O(dt/T).

Here one *fantasy* (the sleep phase's top-down sample) is a sweep of
windows: the top layer fires in ``[0, T)`` driven by its generative biases,
then each layer below in the next window, driven by its biases plus the
spikes of the layer above through instantaneous synapses, the states of a
window being held for the rest of the sweep -- the bridge limit, in which the
spiking circuit *is* the binary machine, sample for sample in distribution.
``n_copies`` independent fantasies run side by side (a population).  Not yet
here (issue 14): the wake sweep, plasticity by dendritic prediction, synaptic
time constants, delays, and training.
"""

from __future__ import annotations

import numpy as np

from .errors import bad
from .model import Parameters

ESCAPES = ("exact", "rate")


def window_probability(u, T: float, dt: float, escape: str = "exact"):
    """P(at least one spike in a window of length T) of a unit with drive u,
    on a clock of step dt: sigma(u) for the exact escape (the bridge)."""
    steps = int(round(T / dt))
    if escape == "exact":
        p_step = 1.0 - (1.0 + np.exp(u)) ** (-dt / T)
    else:
        p_step = np.minimum(np.log1p(np.exp(u)) / T * dt, 1.0)
    return 1.0 - (1.0 - p_step) ** steps


def fantasies(params: Parameters, n_copies: int, T: float = 1.0, dt: float = 0.1, escape: str = "exact",
              seed: int = 0, record_spikes: bool = False):
    """``n_copies`` spiking fantasies of the generative model (Brian2 runtime,
    numpy target), times in ms.  Returns per layer the window states
    ``(n_copies, n_l)`` ("fired at least once") and, with ``record_spikes``,
    per layer ``(times_ms, unit, copy)`` of every spike."""
    import brian2 as b2

    if escape not in ESCAPES:
        raise bad("escape", f"must be one of {list(ESCAPES)}", escape)
    if not (0 < dt <= T):
        raise bad("dt", f"must be in (0, T={T}] ms", dt)
    steps = int(round(T / dt))
    if abs(steps * dt - T) > 1e-9 * T:
        raise bad("T", f"must be a whole number of steps of dt={dt} ms", T)
    sizes = [b.size for b in params.generative_biases]
    L = len(sizes) - 1
    b2.start_scope()
    b2.defaultclock.dt = dt * b2.ms
    b2.seed(seed)
    fire = ("rand() < 1 - (1 + exp(u))**(-dt/T_window)" if escape == "exact"
            else "rand() < log(1 + exp(u)) / T_window * dt")
    groups, spikes = [], []
    for l, n in enumerate(sizes):
        # layer l fires in the window that starts when the layers above are done: [(L - l) T, (L - l + 1) T)
        g = b2.NeuronGroup(n * n_copies, """
            u = b_gen + x_gen : 1
            b_gen : 1 (constant)
            x_gen : 1
            fired : 1
            t_start : second (constant)
            T_window : second (constant)
            """, threshold=f"t >= t_start and t < t_start + T_window and {fire}", reset="fired = 1", method="euler", name=f"layer_{l}")
        g.b_gen = np.tile(params.generative_biases[l], n_copies)
        g.t_start = (L - l) * T * b2.ms
        g.T_window = T * b2.ms
        groups.append(g)
        if record_spikes:
            spikes.append(b2.SpikeMonitor(g))
    synapses = []
    for l in range(L):  # generative: layer l+1 -> l, within a copy; instantaneous, the state held
        above, below = sizes[l + 1], sizes[l]
        s = b2.Synapses(groups[l + 1], groups[l], "w : 1\nx_gen_post = w * fired_pre : 1 (summed)",
                        name=f"generative_{l}")
        copy = np.repeat(np.arange(n_copies), above * below)
        i = np.tile(np.repeat(np.arange(above), below), n_copies) + copy * above
        j = np.tile(np.tile(np.arange(below), above), n_copies) + copy * below
        s.connect(i=i, j=j)
        s.w = np.tile(params.generative_weights[l].ravel(), n_copies)
        synapses.append(s)
    net = b2.Network(*groups, *synapses, *spikes)
    net.run((L + 1) * T * b2.ms, namespace={})
    states = [np.asarray(g.fired[:]).reshape(n_copies, n) for g, n in zip(groups, sizes)]
    if not record_spikes:
        return states
    rec = [(np.asarray(m.t / b2.ms), np.asarray(m.i) % n, np.asarray(m.i) // n) for m, n in zip(spikes, sizes)]
    return states, rec
