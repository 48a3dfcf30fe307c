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

:class:`SpikingNetwork` trains populations of such machines on the Brian2
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

from .brian2_engine import CircuitNetwork, stable_clock
from .circuit import Circuit
from .errors import bad

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
        if not 0 < self.dt <= self.window:
            raise bad("dt", f"must be in (0, window={self.window}] ms", self.dt)
        if self.window > MAX_WINDOW_MS:
            raise bad("window", f"must be at most {MAX_WINDOW_MS} ms", self.window)
        if self.steps_per_window > MAX_STEPS_PER_WINDOW or abs(self.steps_per_window * self.dt - self.window) > 1e-9 * self.window:
            raise bad("window", f"must be a whole number (at most {MAX_STEPS_PER_WINDOW}) of steps of dt={self.dt} ms",
                      self.window)
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

    def phases(self, n_hidden_layers: int) -> dict:
        """The clock steps of one example (a cycle of ``steps_per_example``):
        ``wake_window[l]`` / ``sleep_window[l]``, the first step of layer l's
        window in each phase (every window is preceded by a settle);
        ``wake_learn``, ``sleep_start``, ``sleep_learn``."""
        L, nw, ns = n_hidden_layers, self.steps_per_window, self.steps_per_settle
        slot = ns + nw
        wake_learn = L * slot + ns
        sleep_start = wake_learn + 1
        return {"wake_window": {l: (l - 1) * slot + ns for l in range(1, L + 1)},
                "wake_learn": wake_learn, "sleep_start": sleep_start,
                "sleep_window": {l: sleep_start + (L - l) * slot + ns for l in range(L + 1)},
                "sleep_learn": sleep_start + (L + 1) * slot + ns}

    def steps_per_example(self, n_hidden_layers: int) -> int:
        """One wake sweep (a settle and a window per hidden layer), a settle
        and a learning step, one sleep sweep (a settle and a window per
        layer), a settle and a learning step."""
        return self.phases(n_hidden_layers)["sleep_learn"] + 1

    def example_ms(self, n_hidden_layers: int) -> float:
        return self.steps_per_example(n_hidden_layers) * self.dt

    def key(self) -> dict:
        return dataclasses.asdict(self)


MAX_WINDOW_MS = 1000.0
MAX_DELAY_STEPS = 50


class _AlignedGridFilter:
    """Drops Brian2's "time grids not aligned" warning when the ratio of a
    per-example TimedArray's dt to the clock's is a whole number but for
    rounding (``5.2 ms / 0.1 ms = 52.00000000000001``); Brian2 indexes such
    arrays correctly (``int(t / dt_array + 0.5 / K)``), and a real
    misalignment still warns."""

    def filter(self, record):
        import re

        m = re.search(r"ratio: 1/([0-9.eE+-]+)\)", record.getMessage())
        if m is None or "not aligned" not in record.getMessage():
            return True
        r = float(m.group(1))
        return abs(r - round(r)) > 1e-9 * r


def _quiet_aligned_grids():
    from brian2.utils.logger import BrianLogger

    handler = BrianLogger.console_handler
    if handler is not None and not any(isinstance(f, _AlignedGridFilter) for f in handler.filters):
        handler.addFilter(_AlignedGridFilter())
MAX_STEPS_PER_WINDOW = 10_000


class SpikingNetwork(CircuitNetwork):
    """A population of Helmholtz machines of stochastic spiking units, in ms.

    Every example is one cycle of the wake-sleep oscillation, ``C`` steps
    of ``dt`` (:meth:`Spiking.steps_per_example`, laid out by
    :meth:`Spiking.phases`); with ``n`` steps per window, ``s`` per settle
    and step ``c`` of the cycle:

    ======================  =======================================================
    steps ``c``             phase
    ======================  =======================================================
    0                       wake begins: the data vector is clamped on layer 0
    ``wake_window[k]`` + n  after a settle of s steps, the wake window of hidden
                            layer k = 1..L: it fires with the escape rate of its
                            basal (recognition) compartment
    ``wake_learn``          after a settle, wake learning: the apical
                            (generative) compartment of every unit predicts its
                            state -- eq. 4
    ``sleep_start``         sleep begins: every state is cleared
    ``sleep_window[l]`` + n after a settle, the sleep window of layer l = L..0: it
                            fires with the escape rate of its apical (generative)
                            compartment
    ``sleep_learn`` = C - 1 after a settle, sleep learning: the basal compartment
                            predicts the fantasy -- eq. 7
    ======================  =======================================================

    A unit's state in a phase is ``fired``: 1 once it has fired in its
    window, held to the end of the phase; its targets see it through a
    synaptic current ``a`` (``a = fired`` when ``tau_syn = 0``, otherwise
    ``da/dt = (fired - a) / tau_syn``, integrated at the start of each step,
    before the inputs are summed and the synapses learn, so that a spike is
    in the current one step later and ``tau_syn -> 0`` is the bridge); with
    an axonal delay of k steps, ``fired`` there is the state at the end of
    the step k steps ago (a shift register ``fired_1 .. fired_k``).  Plasticity by dendritic prediction,
    integrated over a window: at a learning step a synapse moves by
    ``eta * a_pre * (fired_post - p_post)``, ``p = 1 - exp(-rho(u) T)`` the
    probability that the predicting compartment's escape rate ``rho(u) = ln(1 +
    e^u) / T`` fires the unit in a window -- in the bridge limit exactly
    ``sigma(u)``, so that the update is the delta rule of eqs. 4 and 7.
    The variable names (weights ``w``, masks, biases, learning rates,
    clamps) are those of :class:`CircuitNetwork`, so loading and reading
    parameters, gates, lesions and clamps are shared.
    """

    def __init__(self, circuit: Circuit, chunk: int, spiking: Spiking, record_spikes: bool = False,
                 record_every: int = 0, n_machines: int = 1, record_traces: bool = False):
        import brian2 as b2

        self.spiking = spiking
        self.propagation = "summed"
        N, n, L = self.shape(circuit, chunk, n_machines)
        b2.defaultclock.dt = spiking.dt * b2.ms
        self.dt = b2.defaultclock.dt
        self.clock = stable_clock(self.dt, "spiking_clock")
        nw = spiking.steps_per_window
        C = spiking.steps_per_example(L)
        self.example_duration = C * self.dt
        _quiet_aligned_grids()
        ex = self.example_duration
        self.data = b2.TimedArray(np.zeros((chunk, N * n[0])), dt=ex, name="data")
        self.wake_gate = b2.TimedArray(np.ones((chunk, N)), dt=ex, name="wake_gate")
        self.sleep_gate = b2.TimedArray(np.ones((chunk, N)), dt=ex, name="sleep_gate")
        self.timed_arrays = [self.data, self.wake_gate, self.sleep_gate]
        self.u_wake, self.u_sleep = {}, {}
        T = f"({spiking.window}*ms)"
        if spiking.escape == "exact":  # P(spike in a step) = 1 - exp(-rho dt), exactly
            p_step = f"-expm1(-log1p(exp({{u}})) * dt / {T})"
        else:  # Brian2's rand() < rho*dt
            p_step = f"log1p(exp({{u}})) / {T} * dt"
        step = f"(timestep(t, dt) % {C})"
        ph = spiking.phases(L)
        wake_learn, sleep_start, sleep_learn = ph["wake_learn"], ph["sleep_start"], ph["sleep_learn"]

        self.layers = []
        objects = []
        for l in range(L + 1):
            eqs = ["machine : integer (constant)  # which machine of the population the unit belongs to",
                   "fired : 1  # the unit's state in this phase: fired at least once in its window",
                   "b_gen : 1  # generative bias",
                   "eps_b_gen : 1",
                   "clamped : 1  # 1: the unit is held at clamp_state in both phases",
                   "clamp_state : 1",
                   "u_gen = b_gen + x_gen : 1  # apical compartment: the generative (top-down) drive",
                   "p_gen = 1 - exp(-log1p(exp(u_gen)))  : 1  # its prediction: P(fire in a window)"]
            eqs.append("x_gen : 1" if l == L else "x_gen : 1  # top-down synaptic input")
            if l < L:
                eqs.append("eps_gen : 1  # learning rate of the generative weights into the unit")
            if l > 0:
                eqs += ["b_rec : 1  # recognition bias",
                        "eps_b_rec : 1",
                        "x_rec : 1  # bottom-up synaptic input",
                        "u_rec = b_rec + x_rec : 1  # basal compartment: the recognition (bottom-up) drive",
                        "p_rec = 1 - exp(-log1p(exp(u_rec))) : 1  # its prediction: P(fire in a window)",
                        "eps_rec : 1  # learning rate of the recognition weights into the unit"]
            k = spiking.steps_of_delay
            arriving = f"fired_{k}" if k else "fired"
            if k:  # an axonal delay of k steps: fired_j is the state at the end of the step j steps ago
                eqs += [f"fired_{j} : 1" for j in range(1, k + 1)]
            if spiking.tau_syn > 0:
                eqs.append(f"da/dt = ({arriving} - a) / ({spiking.tau_syn}*ms) : 1  # synaptic current carried to targets")
            else:
                eqs.append(f"a = {arriving} : 1  # what the targets see: the held state (the bridge)")
            windows = []
            if l > 0:  # wake: hidden layer l fires in window l - 1, driven by the basal compartment
                w0 = ph["wake_window"][l]
                windows.append(f"({step} >= {w0} and {step} < {w0 + nw} and rand() < {p_step.format(u='u_rec')})")
            s0 = ph["sleep_window"][l]  # sleep: layer l fires in window L - l, driven by the apical compartment
            windows.append(f"({step} >= {s0} and {step} < {s0 + nw} and rand() < {p_step.format(u='u_gen')})")
            g = b2.NeuronGroup(N * n[l], "\n".join(eqs), method="exact",
                               threshold=f"clamped < 0.5 and ({' or '.join(windows)})", reset="fired = 1",
                               events={"wake_learn": f"{step} == {wake_learn}", "sleep_learn": f"{step} == {sleep_learn}"},
                               name=f"layer_{l}", clock=self.clock)
            g.machine = np.repeat(np.arange(N), n[l])
            # the phase boundaries: every state cleared (or held at its clamp) at
            # the start of each phase; awake, the data vector on layer 0 (the data wins over a clamp)
            start = (f"wake_start = int({step} == 0)\n"
                     f"sleep_start = int({step} == {sleep_start})\n")
            if l == 0:
                start += ("fired = (1 - wake_start - sleep_start) * fired + wake_start * data(t, i) "
                          "+ sleep_start * clamped * clamp_state")
            else:
                start += ("fired = (1 - wake_start - sleep_start) * fired "
                          "+ (wake_start + sleep_start) * clamped * clamp_state")
            g.run_regularly(start, when="start", order=0, name=f"layer_{l}_phase")
            if k:
                g.run_regularly("\n".join([f"fired_{j} = fired_{j - 1}" for j in range(k, 1, -1)] + ["fired_1 = fired"]),
                                when="end", name=f"layer_{l}_axon")
            # the biases learn after the synapses (which read p before it moves)
            g.run_on_event("wake_learn", "b_gen += eps_b_gen * wake_gate(t, machine) * (fired - p_gen)",
                           when="start", order=5)
            if l > 0:
                g.run_on_event("sleep_learn", "b_rec += eps_b_rec * sleep_gate(t, machine) * (fired - p_rec)",
                               when="start", order=5)
            self.layers.append(g)
            objects.append(g)

        self.learn_code = self.delta_rules(
            "eps_rec_post * sleep_gate(t, machine_post) * mask * a_pre * (fired_post - p_rec_post)",
            "eps_gen_post * wake_gate(t, machine_post) * mask * a_pre * (fired_post - p_gen_post)")

        def synapses(kind, pathway, event):
            return lambda k: {"model": f"w : 1  # {kind} weight\nmask : 1\n"
                                       f"x_{pathway}_post = mask * w * a_pre : 1 (summed)",
                              "on_post": {"learn": self.learn_code[(kind, k)]}, "on_event": {"learn": event}}

        objects += self.connect_pathways(synapses("recognition", "rec", "sleep_learn"),
                                         synapses("generative", "gen", "wake_learn"))
        # order in the 'start' slot of a step: the phase boundaries (0), the
        # synaptic currents (1: they integrate the states as they stand, so
        # tau_syn -> 0 is the bridge), the synaptic inputs (2), the learning
        # events (3), the synapses' learning (4), the biases (5); then the
        # escape (thresholds slot)
        for g in self.layers:
            g.state_updater.when, g.state_updater.order = "start", 1
            for event in ("wake_learn", "sleep_learn"):
                g.thresholder[event].when, g.thresholder[event].order = "start", 3
        for S in self.recognition + self.generative:
            for upd in S.summed_updaters.values():
                upd.when, upd.order = "start", 2
            S._pathways[0].when, S._pathways[0].order = "start", 4
        self.network = b2.Network(objects)
        self.spike_monitors = {}
        if record_spikes:
            for l, g in enumerate(self.layers):
                self.spike_monitors[l] = b2.SpikeMonitor(g, name=f"spikes_{l}")
                self.network.add(self.spike_monitors[l])
        self.trace_monitors = {}
        if record_traces:  # every step, after the currents and inputs, before the escape
            for l, g in enumerate(self.layers):
                names = ["u_gen", "a"] + (["u_rec"] if l > 0 else [])
                self.trace_monitors[l] = b2.StateMonitor(g, names, record=True, when="thresholds", order=-1,
                                                         name=f"traces_{l}")
                self.network.add(self.trace_monitors[l])
        self.add_history_monitors(record_every)

    def chunk_inputs(self, data, wake_gate, sleep_gate, uniforms):
        self._chunk_data = data  # layer 0's wake states, for read_spikes
        return super().chunk_inputs(data, wake_gate, sleep_gate, uniforms)

    def read_spikes(self, m: int) -> list:
        """Per machine, what the binary circuit records -- ``wake`` and
        ``sleep``, per layer the ``(m, n_l)`` states of each example's phase
        ("fired in its window"; a clamped unit its clamp; awake, layer 0
        holds the data) -- and the
        spike trains themselves: ``spikes``, per layer ``(times_ms, unit)``
        of every spike of this chunk, and ``cycle_ms``, the length of one
        example."""
        import brian2 as b2

        N = self.n_machines
        C = int(round(float(self.example_duration / self.dt)))
        sleep_start = self.spiking.phases(self.circuit.n_hidden_layers)["sleep_start"]
        out = [{"spikes": [], "cycle_ms": float(self.example_duration / b2.ms), "wake": [], "sleep": []}
               for _ in range(N)]
        for l, n_l in enumerate(self.circuit.layers):
            mon = self.spike_monitors[l]
            steps = np.round(np.asarray(mon.t_[:]) / float(self.dt)).astype(int)
            within = steps < m * C  # a compiled run lasts the whole chunk: the rows past m are padding
            t, i, steps = np.asarray(mon.t / b2.ms)[within], np.asarray(mon.i[:])[within], steps[within]
            machine, unit, example, asleep = i // n_l, i % n_l, steps // C, steps % C >= sleep_start
            g = self.layers[l]
            clamped = np.asarray(g.clamped[:]).reshape(N, n_l) > 0.5
            clamp_state = np.asarray(g.clamp_state[:]).reshape(N, n_l)
            states = {}
            for phase, keep in (("wake", ~asleep), ("sleep", asleep)):
                a = np.zeros((N, m, n_l))
                a[machine[keep], example[keep], unit[keep]] = 1.0
                a = np.where(clamped[:, None, :], clamp_state[:, None, :], a)  # held, never fired
                states[phase] = a
            if l == 0:  # awake, the input layer holds the data
                states["wake"] = np.stack([np.asarray(d, dtype=float)[:m] for d in self._chunk_data])
            order = np.argsort(machine, kind="stable")  # every machine's spikes, in time order
            bounds = np.searchsorted(machine[order], np.arange(N + 1))
            for k in range(N):
                mine = order[bounds[k]:bounds[k + 1]]
                out[k]["spikes"].append((t[mine], unit[mine]))
                out[k]["wake"].append(states["wake"][k])
                out[k]["sleep"].append(states["sleep"][k])
        return out

    def read_traces(self, m: int) -> list:
        """Per machine, per layer ``{"t_ms", "u_gen", "a"[, "u_rec"]}``: the
        apical and basal compartments' drives and the synaptic current,
        ``(steps, n_l)``, of every clock step of this chunk."""
        import brian2 as b2

        steps = int(round(float(m * self.example_duration / self.dt)))
        out = [[] for _ in range(self.n_machines)]
        for l, n_l in enumerate(self.circuit.layers):
            mon = self.trace_monitors[l]
            t = np.asarray(mon.t / b2.ms)[:steps]
            values = {name: np.asarray(getattr(mon, name))[:, :steps] for name in mon.record_variables}
            for k in range(self.n_machines):
                rows = slice(k * n_l, (k + 1) * n_l)
                out[k].append({"t_ms": t, **{name: v[rows].T for name, v in values.items()}})
        return out


def sampled_fantasies(params_list: list, circuit: Circuit, spiking: Spiking, n: int, seed: int = 0,
                      device: str | None = None, all_layers: bool = False) -> list:
    """``n`` fantasies of each machine *as the spiking network produces them*
    (learning off, one population): per machine an ``(n, n_input)`` array of
    the input layer's sleep-window states (``all_layers``: a list of every
    layer's, input first).  In the bridge limit these are samples of the
    binary generative model (eqs. 2-3); away from it, of what the spiking
    circuit actually generates with the same weights.  Many fantasies of one
    machine are fastest as a population of its copies (``[params] * M``,
    ``n = 1``)."""
    from .engines import make_engine

    N = len(params_list)
    zeros = np.zeros(n)
    with make_engine(circuit, "spiking", device=device, chunk=n, n_machines=N, record_spikes=True,
                     spiking=spiking) as eng:
        _, extras = eng.run_population(list(params_list), [np.zeros((n, circuit.n_input))] * N,
                                       [seed + k for k in range(N)], [zeros] * N, [zeros] * N)
    return [e["sleep"] if all_layers else e["sleep"][0] for e in extras]  # the states of each sleep window


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
