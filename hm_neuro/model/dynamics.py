"""The Helmholtz machine in real time: stochastic spiking units in
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

:class:`hm_neuro.engines.brian2.spiking.SpikingNetwork` trains populations of such machines on the Brian2
engine's devices (``make_engine(..., engine="spiking", spiking=Spiking(...))``):
one example is one cycle of a wake-sleep oscillation, a sweep of windows
bottom-up awake and top-down asleep, with plasticity by window-integrated
dendritic prediction (eqs. 4 and 7 in the bridge limit: exact escape,
``tau_syn = 0``); :func:`sampled_fantasies` are the network's own
fantasies (learning off), on the same engine.  With ``tau_syn > 0`` a unit's targets see its state through a
rising current: the sample of the layer it drives is drawn from a transient
while the learning step predicts from the risen current; a ``settle`` before
every window and learning step of a few ``tau_syn`` removes the mismatch
(README, the tau_syn sweep); an axonal ``delay`` does the same, and a
settle of at least the delay removes it.  Not built: a membrane leak.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..errors import bad

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


# ------------------------------------------------------------ training in real time


@dataclasses.dataclass(frozen=True)
class Spiking:
    """The spiking realisation's parameters (times in ms).

    ``window``: the length ``T`` of a sampling window; ``dt``: the clock step
    (``T`` a whole number of steps); ``escape``: ``"exact"`` (the bridge) or
    ``"rate"`` (Brian2's ``rand() < rho*dt``); ``tau_syn``: the time constant
    of the synaptic current that carries a unit's state to its targets (0:
    instantaneous, the bridge); ``settle``: a hold before every window and
    before every learning step, in which no unit fires and the synaptic
    currents approach the states they carry (0: none; a whole number of
    steps); ``delay``: an axonal delay, the time it takes a unit's state to
    reach its targets' synapses (a whole number of steps).  The bridge limit
    is ``escape="exact"``, ``tau_syn=0``, ``delay=0`` for any ``window``,
    ``dt`` and ``settle``; with a delay, a settle of at least the delay is
    exactly the bridge, and with ``tau_syn > 0`` a settle of many
    ``tau_syn`` approaches it again.
    """

    window: float = 1.0
    dt: float = 0.1
    escape: str = "exact"
    tau_syn: float = 0.0
    settle: float = 0.0
    delay: float = 0.0

    def __post_init__(self):
        for key in ("window", "dt", "tau_syn", "settle", "delay"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise bad(key, "must be a finite number of ms", v)
        if not 0 < self.window <= MAX_WINDOW_MS:
            raise bad("window", f"must be in (0, {MAX_WINDOW_MS}] ms", self.window)
        if not 0 < self.dt <= self.window:
            raise bad("dt", f"must be in (0, window={self.window}] ms", self.dt)
        if (
            self.steps_per_window > MAX_STEPS_PER_WINDOW
            or abs(self.steps_per_window * self.dt - self.window) > 1e-9 * self.window
        ):
            raise bad(
                "window",
                f"must be a whole number (at most {MAX_STEPS_PER_WINDOW}) of steps of dt={self.dt} ms",
                self.window,
            )
        if self.escape not in ESCAPES:
            raise bad("escape", f"must be one of {list(ESCAPES)}", self.escape)
        if not 0 <= self.tau_syn <= MAX_WINDOW_MS:
            raise bad("tau_syn", f"must be in [0, {MAX_WINDOW_MS}] ms", self.tau_syn)
        if not 0 <= self.settle <= MAX_WINDOW_MS:
            raise bad("settle", f"must be in [0, {MAX_WINDOW_MS}] ms", self.settle)
        if abs(self.steps_per_settle * self.dt - self.settle) > 1e-9 * max(self.settle, self.dt):
            raise bad("settle", f"must be a whole number of steps of dt={self.dt} ms", self.settle)
        if not 0 <= self.delay <= MAX_DELAY_STEPS * self.dt:
            raise bad("delay", f"must be in [0, {MAX_DELAY_STEPS} steps of dt={self.dt}] ms", self.delay)
        if abs(self.steps_of_delay * self.dt - self.delay) > 1e-9 * max(self.delay, self.dt):
            raise bad("delay", f"must be a whole number of steps of dt={self.dt} ms", self.delay)

    @property
    def steps_per_window(self) -> int:
        return int(round(self.window / self.dt))

    @property
    def steps_per_settle(self) -> int:
        return int(round(self.settle / self.dt))

    @property
    def steps_of_delay(self) -> int:
        return int(round(self.delay / self.dt))

    @property
    def bridge(self) -> bool:
        """True in the limit where the spiking circuit is the binary machine."""
        return self.escape == "exact" and self.tau_syn == 0 and self.delay == 0

    def phases(self, n_hidden_layers: int, in_order: dict | None = None) -> dict:
        """The clock steps of one example (a cycle of ``steps_per_example``):
        ``wake_window[l]`` / ``sleep_window[l]``, the first step of layer l's
        window in each phase (every window is preceded by a settle);
        ``wake_learn``, ``sleep_start``, ``sleep_learn``.  ``in_order``
        ({(phase, layer): units}, :meth:`hm_neuro.model.Lateral.in_order`):
        a layer that fires in its lateral order has one window per unit, one
        after another (:meth:`window_steps`), the unit of rank r firing in
        the r-th."""
        L, ns = n_hidden_layers, self.steps_per_settle
        out = {"wake_window": {}, "sleep_window": {}}
        t = 0
        for l in range(1, L + 1):
            out["wake_window"][l] = t + ns
            t += ns + self.window_steps("wake", l, in_order)
        out["wake_learn"] = t + ns
        out["sleep_start"] = t = t + ns + 1
        for l in range(L, -1, -1):
            out["sleep_window"][l] = t + ns
            t += ns + self.window_steps("sleep", l, in_order)
        out["sleep_learn"] = t + ns
        return out

    def window_steps(self, phase: str, layer: int, in_order: dict | None = None) -> int:
        """The steps of layer ``layer``'s window in ``phase``: one window, or
        one per unit where the layer fires in its lateral order."""
        return self.steps_per_window * (in_order or {}).get((phase, layer), 1)

    def label_steps(self, steps, n_hidden_layers: int, in_order: dict | None = None) -> dict:
        """What each clock step (an integer array, counted from a run's start)
        is part of: ``example`` (its index in the run), ``phase`` (``"wake"``
        or ``"sleep"``) and ``window`` (the layer whose firing window holds
        it; -1 in a settle or a learning step) -- for splitting a monitor's
        recording (:meth:`hm_neuro.engines.brian2.engine.Brian2Engine.phase_labels`)."""
        steps = np.asarray(steps, dtype=np.int64)
        ph, C = self.phases(n_hidden_layers, in_order), self.steps_per_example(n_hidden_layers, in_order)
        c = steps % C
        asleep = c >= ph["sleep_start"]
        window = np.full(steps.shape, -1, dtype=np.int64)
        for phase, mask in (("wake_window", ~asleep), ("sleep_window", asleep)):
            for layer, first in ph[phase].items():
                nw = self.window_steps(phase.split("_")[0], layer, in_order)
                window[mask & (c >= first) & (c < first + nw)] = layer
        return {"example": steps // C, "phase": np.where(asleep, "sleep", "wake"), "window": window}

    def steps_per_example(self, n_hidden_layers: int, in_order: dict | None = None) -> int:
        """One wake sweep (a settle and a window per hidden layer), a settle
        and a learning step, one sleep sweep (a settle and a window per
        layer), a settle and a learning step."""
        return self.phases(n_hidden_layers, in_order)["sleep_learn"] + 1

    def example_ms(self, n_hidden_layers: int, in_order: dict | None = None) -> float:
        return self.steps_per_example(n_hidden_layers, in_order) * self.dt

    def key(self) -> dict:
        return dataclasses.asdict(self)


MAX_WINDOW_MS = 1000.0
MAX_DELAY_STEPS = 50

MAX_STEPS_PER_WINDOW = 10_000
