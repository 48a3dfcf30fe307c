"""The spiking realisation on Brian2: a population of Helmholtz machines of
stochastic spiking units in ms (:mod:`hm_neuro.model.dynamics` declares it)."""

from __future__ import annotations

import re

import brian2 as b2
import numpy as np
from brian2.utils.logger import BrianLogger

from ... import philox
from ...model import Circuit, Spiking, state_name
from .code import SUMMED_INPUT, SYNAPSE, spiking_layer, stream_uniform
from .population import PopulationNetwork


class _AlignedGridFilter:
    """Drops Brian2's "time grids not aligned" warning when the ratio of a
    per-example TimedArray's dt to the clock's is a whole number but for
    rounding (``5.2 ms / 0.1 ms = 52.00000000000001``); Brian2 indexes such
    arrays correctly (``int(t / dt_array + 0.5 / K)``), and a real
    misalignment still warns."""

    def filter(self, record):
        m = re.search(r"ratio: 1/([0-9.eE+-]+)\)", record.getMessage())
        if m is None or "not aligned" not in record.getMessage():
            return True
        r = float(m.group(1))
        return abs(r - round(r)) > 1e-9 * r


def _quiet_aligned_grids():
    handler = BrianLogger.console_handler
    if handler is not None and not any(isinstance(f, _AlignedGridFilter) for f in handler.filters):
        handler.addFilter(_AlignedGridFilter())


class SpikingNetwork(PopulationNetwork):
    """A population of Helmholtz machines of stochastic spiking units, in ms.

    Every example is one cycle of the wake-sleep oscillation, ``C`` steps
    of ``dt`` (:meth:`Spiking.steps_per_example`, laid out by
    :meth:`Spiking.phases`); with ``n`` steps per window, ``s`` per settle
    and step ``c`` of the cycle::

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
    clamps) are those of :class:`.binary.BinaryNetwork`, so loading and reading
    parameters, gates, lesions and clamps are shared.
    """

    def __init__(self, circuit: Circuit, chunk: int, n_machines: int, options):
        """``options`` (:class:`hm_neuro.engines.EngineOptions`): the
        dynamics (``spiking``), recordings (``record_spikes``,
        ``record_every``, ``record_traces``, ``monitors``), the data table
        (``data_rows``) and the generator (``rng``)."""
        spiking: Spiking = options.spiking
        L = len(circuit.layers) - 1
        #: {(phase, layer): units} of the layers that fire in their lateral order, one window per unit
        self.in_order = in_order = circuit.lateral.in_order()
        C = spiking.steps_per_example(L, in_order)
        super().__init__(
            circuit, chunk, n_machines, spiking.dt * b2.ms, C, "spiking_clock", options.data_rows, options.rng
        )
        self.spiking = spiking
        self.steps_per_cycle = C
        self.cycle_step = f"(timestep(t, dt) % {C})"  # the clock step within the example's cycle
        _quiet_aligned_grids()
        ph = spiking.phases(L, in_order)
        for l in range(L + 1):
            self._layer(l, ph)
        objects = list(self.layers)
        objects += self.connect_pathways(self._synapse_args("recognition"), self._synapse_args("generative"))
        objects += self.connect_lateral(self._lateral_args)
        self._schedule()
        if options.record_spikes:
            for l, g in enumerate(self.layers):
                self.spike_monitors[("spikes", l)] = b2.SpikeMonitor(g, name=f"spikes_{l}")
        if options.record_traces:  # every step, after the currents and inputs, before the escape
            for l, g in enumerate(self.layers):
                names = ["u_gen", "a"] + (["u_rec"] if l > 0 else [])
                self.trace_monitors[l] = b2.StateMonitor(
                    g, names, record=True, when="thresholds", order=-1, name=f"traces_{l}"
                )
        self.assemble(objects, options.record_every, options.monitors)

    def _layer(self, l: int, ph: dict):
        """Layer l: its units, firing in their windows (awake, hidden layer l
        in window l - 1 from its basal drive; asleep, layer l in window L - l
        from its apical drive), the phase boundaries, the axonal delay line
        and the biases' learning."""
        circuit, spiking, step, L = self.circuit, self.spiking, self.cycle_step, self.L
        k = spiking.steps_of_delay
        lateral = [p[:3] for p in ("generative", "recognition") if circuit.lateral.of(p, l) is not None]
        sleep_window = self._window(ph["sleep_window"][l], "u_gen", l, philox.SLEEP, "gen" in lateral)
        wake_window = self._window(ph["wake_window"][l], "u_rec", l, philox.WAKE, "rec" in lateral) if l > 0 else None
        fires = f"({wake_window} or {sleep_window})" if l > 0 else sleep_window
        g = self.new_layer(
            l,
            spiking_layer(below=l > 0, above=l < L, delay_steps=k, tau_syn_ms=spiking.tau_syn, lateral=lateral),
            method="exact",
            threshold=f"clamped < 0.5 and {fires}",
            reset="fired = 1",
            events={"wake_learn": f"{step} == {ph['wake_learn']}", "sleep_learn": f"{step} == {ph['sleep_learn']}"},
        )
        # the phase boundaries: every state cleared (or held at its clamp) at
        # the start of each phase; awake, the data vector on layer 0 (the data wins over a clamp)
        awake = f"wake_start * {self.data_code}" if l == 0 else "wake_start * clamped * clamp_state"
        g.run_regularly(
            f"wake_start = int({step} == 0)\n"
            f"sleep_start = int({step} == {ph['sleep_start']})\n"
            f"fired = (1 - wake_start - sleep_start) * fired + {awake} "
            "+ sleep_start * clamped * clamp_state",
            when="start",
            order=0,
            name=f"layer_{l}_phase",
        )
        if k:
            g.run_regularly(
                "\n".join([f"fired_{j} = fired_{j - 1}" for j in range(k, 1, -1)] + ["fired_1 = fired"]),
                when="end",
                name=f"layer_{l}_axon",
            )
        # the biases learn after the synapses (which read p before it moves)
        rule = circuit.plasticity  # the papers' delta rule or a declared one (hm_neuro.model.plasticity)
        db = "eps_b_gen * wake_gate(t, machine) * " + rule.code("bias", {"s": "fired", "p": "p_gen", "b": "b_gen"})
        g.run_on_event(
            "wake_learn", self.bias_rule("b_gen", "generative_biases", l, db, philox.ROUND_WAKE), when="start", order=5
        )
        if l > 0:
            db = "eps_b_rec * sleep_gate(t, machine) * " + rule.code("bias", {"s": "fired", "p": "p_rec", "b": "b_rec"})
            g.run_on_event(
                "sleep_learn",
                self.bias_rule("b_rec", "recognition_biases", l - 1, db, philox.ROUND_SLEEP),
                when="start",
                order=5,
            )

    def _schedule(self):
        """The order in the 'start' slot of a step: the phase boundaries (0),
        the synaptic currents (1: they integrate the states as they stand, so
        tau_syn -> 0 is the bridge), the synaptic inputs (2), the learning
        events (3), the synapses' learning (4), the biases (5); then the
        escape (thresholds slot)."""
        for g in self.layers:
            g.state_updater.when, g.state_updater.order = "start", 1
            for event in ("wake_learn", "sleep_learn"):
                g.thresholder[event].when, g.thresholder[event].order = "start", 3
        for S in self.recognition + self.generative + list(self.lateral.values()):
            for upd in S.summed_updaters.values():
                upd.when, upd.order = "start", 2
            S._pathways[0].when, S._pathways[0].order = "start", 4

    def _window(self, start: int, u: str, l: int, purpose: int, in_order: bool = False) -> str:
        """Layer l's units fire in the window from cycle step ``start`` with the
        escape rate of drive u: P(spike in a step) = 1 - exp(-rho dt) exactly,
        or Brian2's ``rho * dt`` (the rate escape).  A unit's uniform number at
        step j of the window is the binary circuit's copy j of the example's
        draw (:mod:`hm_neuro.philox`): at one step per window, the same number.
        ``in_order``: the layer fires in its lateral order, the unit of rank r
        in the r-th of its windows, one after another (its drive has the
        lateral input of the units before it: in the bridge limit,
        :func:`hm_neuro.model.lateral.sample_in_order`)."""
        sp, C, step = self.spiking, self.steps_per_cycle, self.cycle_step
        T, nw = f"({sp.window}*ms)", sp.steps_per_window
        if in_order:
            start = f"({start} + {nw} * rank_{u[2:]})"
        p_step = f"-expm1(-log1p(exp({u})) * dt / {T})" if sp.escape == "exact" else f"log1p(exp({u})) / {T} * dt"
        if self.rng == "philox":
            draw = stream_uniform(
                f"{l} + 256 * ({step} - {start})", purpose, step=f"step_offset + t_in_timesteps // {C}"
            )
        else:
            draw = "rand()"
        return f"({step} >= {start} and {step} < {start} + {nw} and {draw} < {p_step})"

    def _synapse_args(self, kind: str):
        """Synapses arguments of a pathway: the input summed from the
        presynaptic currents, and dendritic-prediction learning at the
        postsynaptic unit's learning event (eqs. 4 and 7 in the bridge limit)."""
        pathway, phase, gate = (
            ("rec", "sleep_learn", "sleep_gate") if kind == "recognition" else ("gen", "wake_learn", "wake_gate")
        )
        rule = self.circuit.plasticity  # the papers' delta rule or a declared one (hm_neuro.model.plasticity)
        names = {"s_pre": "a_pre", "s_post": "fired_post", "p_post": f"p_{pathway}_post", "w": "w"}
        purpose = philox.ROUND_SLEEP if kind == "recognition" else philox.ROUND_WAKE
        state = "".join(f"{state_name(h)} : 1  # synaptic state\n" for h in rule.state)

        def learn(k):
            where = (f"{kind}_weights", k, self.declared_draw(kind, k, purpose))
            # generated from the declaration; the papers' rule multiplied left to right, as it always was
            # (a_pre is fractional outside the bridge, so the order of the products is part of its numbers)
            factor = rule.code("weight", names, *where, bare=rule.is_default)
            dw = f"eps_{pathway}_post * {gate}(t, machine_post) * mask * " + factor
            if rule.stateful:  # the synapse's state moves, its weight is expressed
                return rule.state_code(dw, names, kind == "generative" and self.circuit.nonnegative(k), *where)
            return self.weight_rule(kind, k, dw, purpose)

        return lambda k: {
            "model": SYNAPSE + state + SUMMED_INPUT.format(x=f"x_{pathway}", s="a"),
            "on_post": {"learn": learn(k)},
            "on_event": {"learn": phase},
        }

    @staticmethod
    def _lateral_args(pathway: str, l: int) -> dict:
        """A layer's lateral synapses: the current of the units before each
        unit in the order into its compartment (apical for generative ones,
        basal for recognition ones), and at that compartment's learning event
        the delta rule on the layer's whole state (eq. 4 awake, eq. 7 asleep,
        by dendritic prediction as the other synapses)."""
        p, phase, gate = (
            ("gen", "wake_learn", "wake_gate") if pathway == "generative" else ("rec", "sleep_learn", "sleep_gate")
        )
        return {
            "model": f"w : 1  # lateral weight\nxlat_{p}_post = w * a_pre : 1 (summed)",
            "on_post": {
                "learn": f"w += eps_lat_{p}_post * {gate}(t, machine_post) * a_pre * (fired_post - p_{p}_post)"
            },
            "on_event": {"learn": phase},
        }

    def example_step(self, pre: str = "") -> str:
        """The stream's step: the example, one cycle of the oscillation."""
        return f"step_offset{pre} + t_in_timesteps // {self.steps_per_cycle}"

    def chunk_inputs(self, data, *args, **kwargs):
        self._chunk_data = data  # layer 0's wake states, for read_spikes
        return super().chunk_inputs(data, *args, **kwargs)

    def read_spikes(self, m: int) -> list:
        """Per machine, what the binary circuit records -- ``wake`` and
        ``sleep``, per layer the ``(m, n_l)`` states of each example's phase
        ("fired in its window"; a clamped unit its clamp; awake, layer 0
        holds the data) -- and the
        spike trains themselves: ``spikes``, per layer ``(times_ms, unit)``
        of every spike of this chunk, and ``cycle_ms``, the length of one
        example."""
        N = self.n_machines
        C = self.steps_per_cycle
        sleep_start = self.spiking.phases(self.circuit.n_hidden_layers, self.in_order)["sleep_start"]
        out = [
            {"spikes": [], "cycle_ms": float(self.example_duration / b2.ms), "wake": [], "sleep": []} for _ in range(N)
        ]
        for l, n_l in enumerate(self.circuit.layers):
            mon = self.spike_monitors[("spikes", l)]
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
                mine = order[bounds[k] : bounds[k + 1]]
                out[k]["spikes"].append((t[mine], unit[mine]))
                out[k]["wake"].append(states["wake"][k])
                out[k]["sleep"].append(states["sleep"][k])
        return out

    def read_traces(self, m: int) -> list:
        """Per machine, per layer ``{"t_ms", "u_gen", "a"[, "u_rec"]}``: the
        apical and basal compartments' drives and the synaptic current,
        ``(steps, n_l)``, of every clock step of this chunk."""
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
