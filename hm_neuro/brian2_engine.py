"""The Helmholtz machine as a Brian2 circuit.

One Brian2 time step is one training example.  Every layer is a
``NeuronGroup`` of binary stochastic units; every pair of adjacent layers is
joined by two separate ``Synapses``: a bottom-up *recognition* set and a
top-down *generative* set.  The *phase controller* (:func:`phase_schedule`)
places all operations of one example in the ``start`` slot of the step and
orders them:

=====  ===========================================================  =========
order  operation                                                    paper
=====  ===========================================================  =========
wake   clamp ``d`` on layer 0; per hidden layer: summed recognition   eq. 1
       input, ``q = sigma(r + x)``, ``s_wake = [u < q]``
wake   generative input from the wake sample; ``p = sigma(g + x)``;   eq. 4
learn  ``g += eps (s - p)``; ``G += eps s_pre (s_post - p_post)``
sleep  top layer ``p = sigma(g)``; downwards: summed generative       eq. 1
       input, ``s_sleep = [u < p]`` -- the fantasy
sleep  recognition input from the fantasy; ``q = sigma(r + x)``;      eq. 7
learn  ``r += eps (s - q)``; ``R += eps s_pre (s_post - q_post)``
=====  ===========================================================  =========

The postsynaptic factor of each delta rule, ``eps * gate * (s - p)``, is
computed once per unit with its bias update, so a synapse's update is that
factor times its presynaptic state.  With summed propagation the generative
synapses ``G_k`` make two passes per example, not three: nothing reads them
between the wake phase and the moment the fantasy reaches layer k + 1, so
they apply their wake update there and carry the fantasy down in the same
code (bit for bit the order above).

A whole training run (or a chunk of it) is ONE ``run()`` call.  Learning
is gated per example by the ``TimedArray``s ``wake_gate(t)`` and
``sleep_gate(t)`` (1 = learn, 0 = sample only), which is how wake-only,
sleep-only and frozen epochs are expressed.  A unit that is on in the wake
phase emits a ``wake`` event, one that is on in the fantasy a ``sleep``
event, so ``EventMonitor(layer, 'wake')`` records perception rasters
and ``'sleep'`` dream rasters.

Devices: ``numpy`` and ``cython`` (runtime, for tests and debugging) and
``cpp_standalone`` (compiled once per circuit shape and chunk length, then
re-run with new data, weights, learning rates and seed through ``run_args``).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .circuit import Circuit
from .errors import bad
from .model import NO_PERTURBATION, SIGMOID_CODE, Parameters, Uniforms

logger = logging.getLogger(__name__)

#: environment variable through which a compiled binary receives its seed
SEED_ENV = "HM_NEURO_SEED"


def _c(c: int) -> str:
    """The name suffix of copy c of a unit's state: s_wake, s_wake_1, ..."""
    return "" if c == 0 else f"_{c}"


def _copies_sum(term: str, copies: int, weight: str | None = None) -> str:
    """Brian2 code of ``term`` summed over the copies c of a unit's state
    (``{c}`` becomes the copy's suffix), each times ``weight`` if given; one
    copy: the term alone."""
    terms = [(weight.format(c=_c(c)) + " * " if weight else "") + term.format(c=_c(c)) for c in range(copies)]
    return terms[0] if copies == 1 else "(" + " + ".join(terms) + ")"


def log_sigmoid(x: str) -> str:
    """ln sigma(x) as Brian2 code, finite for any finite x (:func:`hm_neuro.model.log_sigmoid`)."""
    return f"(clip({x}, -inf, 0) - log1p(exp(-abs({x}))))"


def sigmoid(x: str) -> str:
    """Eq. 1 as Brian2 code (:data:`hm_neuro.model.SIGMOID_CODE`)."""
    return SIGMOID_CODE.format(x=x)


def compiler_available() -> bool:
    return shutil.which(os.environ.get("CXX", "g++")) is not None or shutil.which("c++") is not None


def default_device() -> str:
    """The fastest device that works here, with a note when falling back."""
    if compiler_available():
        return "cpp_standalone"
    logger.warning("no C++ compiler found: using Brian2's numpy target (slow)")
    return "numpy"


#: event-driven propagation pays off from this many synapses per example
#: (benchmarks/bench.py: at 16-8-1 and 64-16-16-4 the extra event detectors
#: cost more than they save; at 784-200-200 events are several times faster)
EVENT_DRIVEN_FROM_SYNAPSES = 20_000


def choose_propagation(circuit: Circuit) -> str:
    """'event' for large circuits, 'summed' for small ones (see the benchmark)."""
    n = circuit.layers
    synapses = sum(n[k] * n[k + 1] for k in range(len(n) - 1))
    return "event" if synapses >= EVENT_DRIVEN_FROM_SYNAPSES else "summed"


@functools.lru_cache(maxsize=None)
def _binary_command() -> tuple:
    """How Brian2 starts a compiled binary: under ``setpriv --pdeathsig TERM``
    where that works (Linux with util-linux >= 2.33), so the binary dies with
    the thread that started it.  Without it, a CLI or Dask worker killed by
    SIGTERM or SIGKILL left its ``./main`` running on as an orphan."""
    import subprocess
    import sys

    tool = shutil.which("setpriv")
    if tool and sys.platform.startswith("linux"):
        try:
            if subprocess.run([tool, "--pdeathsig", "TERM", "true"], capture_output=True, timeout=10).returncode == 0:
                return (tool, "--pdeathsig", "TERM", "./main")
        except (OSError, subprocess.SubprocessError):
            pass
    return ("./main",)


def _configure_brian2(device: str, cache_dir=None):
    import brian2 as b2

    b2.prefs.logging.file_log = False
    b2.prefs.logging.console_log_level = "WARNING"
    b2.prefs.logging.delete_log_on_exit = True
    if cache_dir is not None:
        b2.prefs.codegen.runtime.cython.cache_dir = str(cache_dir)
    b2.prefs.codegen.runtime.cython.multiprocess_safe = True
    _restore_default_sigint()
    # Brian2's device is global: start every engine from a clean one
    if device == "cpp_standalone":
        b2.device.reinit()
        b2.set_device("cpp_standalone", build_on_run=False)
        b2.prefs.devices.cpp_standalone.run_cmd_unix = list(_binary_command())
    else:
        from brian2.devices.device import RuntimeDevice

        if not isinstance(b2.get_device(), RuntimeDevice):
            b2.device.reinit()
        b2.set_device("runtime")
        b2.prefs.codegen.target = device
    return b2


def _restore_default_sigint():
    """Brian2 installs a SIGINT handler on import that turns Ctrl-C into "stop
    the current run() early" and lets Python carry on, which would save a
    half-trained model.  Put Python's own handler back (main thread only):
    Ctrl-C then raises KeyboardInterrupt, which training turns into a
    checkpoint at the last complete chunk."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


@functools.lru_cache(maxsize=None)
def _stable_clock_class():
    import brian2 as b2

    class StableClock(b2.Clock):
        # Brian2 lets a class override its variables only through the class's own attributes
        dt, dt_ = b2.Clock.dt, b2.Clock.dt_

        def __hash__(self):
            return 0x5EED

    return StableClock


def stable_clock(dt, name: str):
    """A Brian2 ``Clock`` with the same hash in every process.

    The standalone device writes every clock's initialisation into
    ``main.cpp`` in the order of a *set* of clocks; with Brian2's identity
    hashes that order follows memory addresses, which change from process to
    process, so a cached build of a circuit with more than one clock (the
    example clock and the history monitors') had its ``main.cpp`` rewritten
    and recompiled on every new process.  These clocks all hash alike (their
    equality stays identity), so a set of them is laid out by the order of
    insertion alone -- Brian2's fixed order of the network's objects -- and
    every object of a circuit runs on one of them."""
    return _stable_clock_class()(dt=dt, name=name)


class CircuitNetwork:
    """The Brian2 objects of a population of ``n_machines`` machines of one
    shape, with ``chunk`` examples per run.

    Layer ``l`` is ONE ``NeuronGroup`` of ``n_machines * n[l]`` units (machine
    ``m`` owns units ``m*n[l] .. (m+1)*n[l]-1``; its index is the constant
    ``machine``); recognition and generative ``Synapses`` connect units of
    the same machine only.  Everything a machine owns is a per-unit or
    per-synapse variable -- learning rates, gates (2-D ``TimedArray``s
    indexed by machine), lesion masks, clamps, data columns -- so every code
    object of the phase controller does the work of all machines at once.

    Attributes ``layers`` (list of NeuronGroups), ``recognition`` and
    ``generative`` (lists of Synapses, index k joins layers k and k+1) and
    ``network`` are public so that experiments can add monitors before the
    first run.
    """

    def __init__(self, circuit: Circuit, chunk: int, external_uniforms: bool,
                 record_spikes: bool = False, record_every: int = 0, propagation: str = "summed",
                 n_machines: int = 1, rule=None):
        import brian2 as b2

        from .vectorised import Rule

        if propagation not in ("summed", "event"):
            raise bad("propagation", "must be 'summed' or 'event'", propagation)
        self.rule = rule = Rule.parse(rule or "wake-sleep")
        if not rule.is_default and propagation != "summed":
            raise bad("propagation", f"the {rule.label} rule needs summed propagation", propagation)
        # K recognition samples per wake phase, S fantasies per sleep phase: copies c of a
        # unit's state are the variables s_wake{c} (c = 0: s_wake, then s_wake_1, ...)
        K, S = rule.samples, rule.fantasies
        self.K, self.S = K, S
        self.weighted = weighted = rule.samples > 1 or rule.wake_update
        self.propagation = propagation
        event = propagation == "event"
        N, n, L = self.shape(circuit, chunk, n_machines)
        b2.defaultclock.dt = 0.1 * b2.ms  # one example per step (a spiking network may have changed it)
        dt = b2.defaultclock.dt
        self.dt = dt
        self.clock = stable_clock(dt, "example_clock")  # one step: one example
        self.example_duration = dt
        # --- inputs of the phase controller, replaced chunk by chunk
        self.data = b2.TimedArray(np.zeros((chunk, N * n[0])), dt=dt, name="data")
        self.wake_gate = b2.TimedArray(np.ones((chunk, N)), dt=dt, name="wake_gate")
        self.sleep_gate = b2.TimedArray(np.ones((chunk, N)), dt=dt, name="sleep_gate")
        self.timed_arrays = [self.data, self.wake_gate, self.sleep_gate]
        self.u_wake, self.u_sleep = {}, {}
        if external_uniforms:
            for l in range(L + 1):
                self.u_sleep[l] = b2.TimedArray(np.zeros((chunk, N * S * n[l])), dt=dt, name=f"u_sleep_{l}")
                if l > 0:
                    self.u_wake[l] = b2.TimedArray(np.zeros((chunk, N * K * n[l])), dt=dt, name=f"u_wake_{l}")
            self.timed_arrays += list(self.u_wake.values()) + list(self.u_sleep.values())

        def U(phase, l, c=0):
            """The uniform of copy c of unit i: columns machine-major, then copy, then unit."""
            table = self.u_wake if phase == "wake" else self.u_sleep
            copies = K if phase == "wake" else S
            if not table:
                return "rand()"
            if copies == 1:
                return f"u_{phase}_{l}(t, i)"
            return f"u_{phase}_{l}(t, i + machine * {(copies - 1) * n[l]} + {c * n[l]})"

        objects = []
        self.layers = []
        for l in range(L + 1):
            eqs = ["machine : integer (constant)  # which machine of the population the unit belongs to",
                   "s_wake : 1  # wake (recognition) sample",
                   "s_sleep : 1  # sleep (fantasy) sample",
                   "p : 1  # generative probability, eq. 1",
                   "b_gen : 1  # generative bias",
                   "eps_b_gen : 1  # its learning rate",
                   "clamped : 1  # 1: the unit is held at clamp_state in both phases",
                   "clamp_state : 1"]
            if l < L:
                eqs += ["x_gen_wake : 1  # top-down input from the wake sample above",
                        "x_gen_sleep : 1  # top-down input from the fantasy above",
                        "eps_gen : 1  # learning rate of the generative weights into the unit",
                        *[f"err_gen{_c(c)} : 1  # eps_gen (s_wake - p), gated: the unit's factor of eq. 4"
                          for c in range(K)]]
            if l > 0:
                eqs += ["q : 1  # recognition probability, eq. 1",
                        "b_rec : 1  # recognition bias",
                        "eps_b_rec : 1  # its learning rate",
                        "x_rec_wake : 1  # bottom-up input from the wake sample below",
                        "x_rec_sleep : 1  # bottom-up input from the fantasy below",
                        "eps_rec : 1  # learning rate of the recognition weights into the unit",
                        *[f"err_rec{_c(c)} : 1  # eps_rec (s_sleep - q), gated: the unit's factor of eq. 7"
                          for c in range(S)]]
                if rule.wake_update:
                    eqs += [f"err_rec_wake{_c(c)} : 1  # eps_rec omega (s_wake - q): the wake-phase Q update"
                            for c in range(K)]
            # the copies of a rule with K samples / S fantasies
            for c in range(1, max(K, S)):
                eqs += [f"p_{c} : 1", *([f"q_{c} : 1"] if l > 0 else [])]
            for c in range(1, K):
                eqs += [f"s_wake_{c} : 1  # wake sample {c}", *([f"x_gen_wake_{c} : 1"] if l < L else []),
                        *([f"x_rec_wake_{c} : 1"] if l > 0 else [])]
            for c in range(1, S):
                eqs += [f"s_sleep_{c} : 1  # fantasy {c}", *([f"x_gen_sleep_{c} : 1"] if l < L else []),
                        *([f"x_rec_sleep_{c} : 1"] if l > 0 else [])]
            if weighted:  # the unit's share of ln P(h_c, d) - ln Q(h_c | d), and the normalised weights
                for c in range(K):
                    eqs += [f"lp{_c(c)} : 1", *([f"lq{_c(c)} : 1"] if l > 0 else []),
                            f"omega_of_machine{_c(c)} : 1 (linked)",
                            f"omega{_c(c)} : 1  # its copy, which the synapses can read"]
            events = {"wake": "s_wake > 0.5", "sleep": "s_sleep > 0.5"} if (record_spikes or event) else None
            g = b2.NeuronGroup(N * n[l], "\n".join(eqs), events=events, name=f"layer_{l}", clock=self.clock)
            g.machine = np.repeat(np.arange(N), n[l])
            g.state_updater.active = False
            self.layers.append(g)
            objects.append(g)
        if weighted:
            objects += self._importance_population(N, n, L, K)

        # the delta rules (eq. 4 wake, eq. 7 sleep): the postsynaptic factor
        # eps * gate * (s - p) (times omega when reweighted) is computed once per
        # unit, so a synapse multiplies it by its presynaptic state only (which
        # is the event itself in event-driven propagation)
        self.learn_code = self.delta_rules("mask * " + _copies_sum("s_sleep{c}_pre * err_rec{c}_post", S),
                                           "mask * " + _copies_sum("s_wake{c}_pre * err_gen{c}_post", K))
        if rule.wake_update:  # reweighted: the recognition weights learn on real data too
            for k in range(L):
                self.learn_code[("recognition_wake", k)] = (
                    "w += mask * " + _copies_sum("s_wake{c}_pre * err_rec_wake{c}_post", K))
        objects += self.connect_pathways(
            lambda k: self._synapse_args("rec", "R_jk", self.learn_code[("recognition", k)], event, K, S),
            lambda k: self._synapse_args("gen", "G_kj", self.learn_code[("generative", k)], event, K, S))

        self.phase_schedule(U)
        self.network = b2.Network(objects)
        self.spike_monitors = {}
        if record_spikes:
            for l, g in enumerate(self.layers):
                for phase in ("wake", "sleep"):
                    m = b2.EventMonitor(g, phase, record=True, name=f"{phase}_raster_{l}")
                    self.spike_monitors[(phase, l)] = m
                    self.network.add(m)
        self.add_history_monitors(record_every)

    def shape(self, circuit: Circuit, chunk: int, n_machines: int):
        """Keep the population's shape; returns (machines, layer sizes, hidden layers)."""
        self.circuit = circuit
        self.chunk = int(chunk)
        self.n_machines = int(n_machines)
        self.L = len(circuit.layers) - 1
        return self.n_machines, circuit.layers, self.L

    def add_history_monitors(self, record_every: int):
        """Every weight and bias recorded every ``record_every`` examples
        (``StateMonitor``s before the example's first operation)."""
        import brian2 as b2

        self.history_monitors = {}
        if record_every:
            clock = stable_clock(record_every * self.example_duration, "history_clock")
            for name, obj, var in self.parameter_objects():
                m = b2.StateMonitor(obj, var, record=True, clock=clock, when="before_start", name=f"history_{name}")
                self.history_monitors[name] = m
                self.network.add(m)

    def delta_rules(self, recognition_dw: str, generative_dw: str) -> dict:
        """{(kind, k): synapse code} of every weight set: ``w += dw`` (eqs. 4
        and 7), generative weights kept >= 0 where the circuit says so."""
        out = {}
        for k in range(self.L):
            out[("recognition", k)] = f"w += {recognition_dw}"
            out[("generative", k)] = (f"w = clip(w + {generative_dw}, 0, inf)" if self.circuit.nonnegative(k)
                                      else f"w += {generative_dw}")
        return out

    def connect_pathways(self, recognition_args, generative_args) -> list:
        """The recognition ``Synapses`` (layer k up to k + 1) and generative
        ones (k + 1 down to k) of every pair of layers, each machine's units
        connected all-to-all within the machine; ``*_args(k)`` gives the
        ``Synapses`` arguments of set k."""
        import brian2 as b2

        n = self.circuit.layers
        self.recognition, self.generative = [], []
        for k in range(self.L):
            lower, upper = self.layers[k], self.layers[k + 1]
            R = b2.Synapses(lower, upper, name=f"recognition_{k}", clock=self.clock, **recognition_args(k))
            up_i, up_j = self.pairs(n[k], n[k + 1])
            R.connect(i=up_i, j=up_j)
            G = b2.Synapses(upper, lower, name=f"generative_{k}", clock=self.clock, **generative_args(k))
            down_i, down_j = self.pairs(n[k + 1], n[k])
            G.connect(i=down_i, j=down_j)
            self.recognition.append(R)
            self.generative.append(G)
        return self.recognition + self.generative

    def pairs(self, n_pre: int, n_post: int):
        """(i, j) of every synapse from a layer of n_pre to one of n_post
        units, within each machine: machine-major, then pre-major, so that
        machine m's weights are ``w[m*n_pre*n_post:(m+1)*n_pre*n_post]``
        reshaped to (n_pre, n_post)."""
        m, a, b = np.unravel_index(np.arange(self.n_machines * n_pre * n_post), (self.n_machines, n_pre, n_post))
        return m * n_pre + a, m * n_post + b

    @staticmethod
    def _synapse_args(pathway: str, weight: str, learn: str, event: bool, K: int = 1, S: int = 1) -> dict:
        """Synapses arguments of a recognition ('rec') or generative ('gen') set.

        summed: the inputs are summed variables over every synapse and
        learning a ``run_regularly`` over every synapse.  event: a unit that
        is on emits a ``wake`` or ``sleep`` event, and ``on_pre`` code adds
        its weights to its targets' inputs and applies the delta rule, so only
        the synapses of active presynaptic units are touched.
        """
        import brian2 as b2

        model = (f"w : 1  # {'recognition' if pathway == 'rec' else 'generative'} weight {weight}\n"
                 "mask : 1  # 0: lesioned (silent, does not learn)\n")
        if not event:  # the generative synapses carry the fantasy down in their learning pass (phase_schedule)
            return {"model": model + "".join(f"x_{pathway}_wake{_c(c)}_post = mask * w * s_wake{_c(c)}_pre : 1 (summed)\n"
                                             for c in range(K))
                    + ("".join(f"x_{pathway}_sleep{_c(c)}_post = mask * w * s_sleep{_c(c)}_pre : 1 (summed)\n"
                               for c in range(S)) if pathway == "rec" else "")}
        phase = "sleep" if pathway == "rec" else "wake"
        on_pre = {"wake_input": f"x_{pathway}_wake_post += mask * w",
                  "sleep_input": f"x_{pathway}_sleep_post += mask * w",
                  "learn": learn.replace(f"s_{phase}_pre * ", "")}
        on_event = {"wake_input": "wake", "sleep_input": "sleep", "learn": phase}
        return {"model": model, "on_pre": on_pre, "on_event": on_event,
                "delay": {key: 0 * b2.second for key in on_pre}}

    def _importance_population(self, N, n, L, K):
        """The divisive normalisation population of reweighted wake-sleep: one
        neuron per machine sums its units' shares of ``ln P(h_c, d) - ln Q(h_c
        | d)`` for every copy c (one summed variable per layer), and
        normalises them (``omega_c = softmax_c``); every unit reads its
        machine's weights through linked variables (and copies them into its
        own, which its synapses can read)."""
        import brian2 as b2

        eqs = ["lw_max : 1", "lw_total : 1"]
        for c in range(K):
            eqs += [f"lw{_c(c)} : 1  # ln P(h, d) - ln Q(h | d) of copy {c}", f"omega{_c(c)} : 1  # its weight"]
            eqs += [f"lw{_c(c)}_layer_{l} : 1" for l in range(L + 1)]
        imp = b2.NeuronGroup(N, "\n".join(eqs), name="importance", clock=self.clock)
        imp.state_updater.active = False
        self.importance = imp
        self.collect = []
        for l, g in enumerate(self.layers):
            S = b2.Synapses(g, imp, "\n".join(f"lw{_c(c)}_layer_{l}_post = lp{_c(c)}_pre : 1 (summed)"
                                               for c in range(K)), name=f"importance_from_{l}", clock=self.clock)
            S.connect(i=np.arange(N * n[l]), j=np.repeat(np.arange(N), n[l]))
            self.collect.append(S)
            for c in range(K):
                setattr(g, f"omega_of_machine{_c(c)}",
                        b2.linked_var(imp, f"omega{_c(c)}", index=np.repeat(np.arange(N), n[l])))
        return [imp] + self.collect

    # ------------------------------------------------------------------
    def phase_schedule(self, U):
        """The phase controller: one example per step, ordered in 'start'.

        With summed propagation an input is a summed variable, recomputed
        when needed; with event-driven propagation the units that are on emit
        an event right after they are sampled, the synapses of those units add
        to the targets' inputs, and the layer that reads an input resets it to
        0 for the next example.  The learning rate of a weight set is gated
        once per unit (``eta = eps * gate(t, machine)``), not per synapse.
        """
        L = self.L
        event = self.propagation == "event"
        order = iter(range(1000))

        def op(group, code, name):
            group.run_regularly(code, when="start", order=next(order), name=f"{group.name}_{name}")

        def place(obj):
            """Schedule an existing Brian2 object next in the 'start' slot."""
            obj.when, obj.order = "start", next(order)

        def pathway(S, key):
            return next(p for p in S._pathways if p.name == f"{S.name}_{key}")

        def emit(layer, phase):
            """event-driven: the units of ``layer`` that are on in ``phase`` emit."""
            if event:
                place(layer.thresholder[phase])

        def propagate(S, var, phase):
            """S's input ``var`` to its targets, from the ``phase`` sample of its sources."""
            place(pathway(S, f"{phase}_input") if event else S.summed_updaters[f"{var}_post"])

        def learn(S, kind, k):
            if event:
                place(pathway(S, "learn"))
            else:
                S.run_regularly(self.learn_code[(kind, k)], when="start", order=next(order),
                                name=f"{S.name}_{'wake' if kind == 'generative' else 'sleep'}")

        def consumed(var):
            return f"\n{var} = 0" if event else ""

        def sampled(u):
            return f"clamped * clamp_state + (1 - clamped) * int({u} < "

        lay, R, G = self.layers, self.recognition, self.generative
        K, S, rule, weighted = self.K, self.S, self.rule, self.weighted
        # wake: clamp the data vector, then recognise bottom-up (eq. 1), K samples
        op(lay[0], "s_wake = data(t, i)" + "".join(f"\ns_wake_{c} = s_wake" for c in range(1, K)), "clamp")
        emit(lay[0], "wake")
        for k in range(L):
            for c in range(K):
                propagate(R[k], f"x_rec_wake{_c(c)}", "wake")
            code = []
            for c in range(K):
                drive = f"b_rec + x_rec_wake{_c(c)}"
                code += [f"q{_c(c)} = {sigmoid(drive)}", f"s_wake{_c(c)} = {sampled(U('wake', k + 1, c))}q{_c(c)})"]
                if weighted:
                    code.append(f"lq{_c(c)} = {log_sigmoid(f'(2 * s_wake{_c(c)} - 1) * ({drive})')}")
            op(lay[k + 1], "\n".join(code) + consumed("x_rec_wake"), "recognise")
            emit(lay[k + 1], "wake")
        # wake learning: generative predictions, delta rule (eq. 4); reweighted: each
        # sample's update weighed by its normalised importance weight omega
        for k in range(L):
            for c in range(K):
                propagate(G[k], f"x_gen_wake{_c(c)}", "wake")
        pending = []  # reweighted: the bias updates, after the normalisation
        for l in range(L + 1):
            gated = "" if l == L else "".join(
                f"\nerr_gen{_c(c)} = eps_gen * wake_gate(t, machine)" + (f" * omega{_c(c)}" if weighted else "")
                + f" * (s_wake{_c(c)} - p{_c(c)})" for c in range(K))
            code = []
            for c in range(K):
                drive = "b_gen" if l == L else f"b_gen + x_gen_wake{_c(c)}"
                code.append(f"p{_c(c)} = {sigmoid(drive)}")
                if weighted:
                    share = log_sigmoid(f"(2 * s_wake{_c(c)} - 1) * ({drive})")
                    code.append(f"lp{_c(c)} = {share}" + (f" - lq{_c(c)}" if l > 0 else ""))
            update = ("b_gen += eps_b_gen * wake_gate(t, machine) * "
                      + _copies_sum("(s_wake{c} - p{c})", K, "omega{c}" if weighted else None) + gated)
            if l > 0 and rule.wake_update:  # the wake-phase Q update of the biases, on real data
                update += ("\nb_rec += eps_b_rec * wake_gate(t, machine) * "
                           + _copies_sum("(s_wake{c} - q{c})", K, "omega{c}")
                           + "".join(f"\nerr_rec_wake{_c(c)} = eps_rec * wake_gate(t, machine) * omega{_c(c)}"
                                     f" * (s_wake{_c(c)} - q{_c(c)})" for c in range(K)))
            if weighted:  # predictions first; the biases learn once the weights are normalised
                op(lay[l], "\n".join(code), "wake_predict")
            else:
                op(lay[l], "\n".join(code) + "\n" + update + (consumed("x_gen_wake") if l < L else ""), "wake_bias")
            if weighted:
                pending.append((lay[l], update))
        if weighted:
            for S_ in self.collect:
                for upd in S_.summed_updaters.values():
                    place(upd)
            total = [f"lw{_c(c)} = " + " + ".join(f"lw{_c(c)}_layer_{l}" for l in range(L + 1)) for c in range(K)]
            peak = ["lw_max = lw"] + [f"lw_max = lw_{c} * int(lw_{c} > lw_max) + lw_max * int(lw_{c} <= lw_max)"
                                      for c in range(1, K)]
            norm = ([f"omega{_c(c)} = exp(lw{_c(c)} - lw_max)" for c in range(K)]
                    + ["lw_total = " + " + ".join(f"omega{_c(c)}" for c in range(K))]
                    + [f"omega{_c(c)} = omega{_c(c)} / lw_total" for c in range(K)])
            op(self.importance, "\n".join(total + peak + norm), "normalise")
            for group, update in pending:
                op(group, "".join(f"omega{_c(c)} = omega_of_machine{_c(c)}\n" for c in range(K)) + update,
                   "wake_bias")
        for k in range(L):
            if event:  # summed: below, in the pass that carries the fantasy down
                learn(G[k], "generative", k)
            if rule.wake_update:
                R[k].run_regularly(self.learn_code[("recognition_wake", k)], when="start", order=next(order),
                                   name=f"{R[k].name}_wake")
        # sleep: S fantasies top-down (eq. 1)
        op(lay[L], "\n".join(f"p{_c(c)} = {sigmoid('b_gen')}\ns_sleep{_c(c)} = {sampled(U('sleep', L, c))}p{_c(c)})"
                             for c in range(S)), "dream")
        emit(lay[L], "sleep")
        for k in range(L - 1, -1, -1):
            if event:
                propagate(G[k], "x_gen_sleep", "sleep")
            else:
                # one pass over the generative synapses G_k: they learn from the wake sample
                # (eq. 4; nothing reads them between the wake phase and here) and carry the
                # fantasy of layer k + 1 down to layer k (eq. 1), which resets its input once read
                G[k].run_regularly(self.learn_code[("generative", k)] + "".join(
                    f"\nx_gen_sleep{_c(c)}_post += mask * w * s_sleep{_c(c)}_pre" for c in range(S)),
                    when="start", order=next(order), name=f"{G[k].name}_wake_learn_and_fantasy")
            op(lay[k], "\n".join(f"p{_c(c)} = {sigmoid(f'b_gen + x_gen_sleep{_c(c)}')}\n"
                                 f"s_sleep{_c(c)} = {sampled(U('sleep', k, c))}p{_c(c)})" for c in range(S))
               + "".join(f"\nx_gen_sleep{_c(c)} = 0" for c in range(S)), "dream")
            emit(lay[k], "sleep")
        if not rule.sleep_update:
            return
        # sleep learning: recognition predictions of the fantasy, delta rule (eq. 7)
        for k in range(L):
            for c in range(S):
                propagate(R[k], f"x_rec_sleep{_c(c)}", "sleep")
            op(lay[k + 1], "\n".join(f"q{_c(c)} = {sigmoid(f'b_rec + x_rec_sleep{_c(c)}')}" for c in range(S)) + "\n"
                           "b_rec += eps_b_rec * sleep_gate(t, machine) * "
                           + _copies_sum("(s_sleep{c} - q{c})", S)
                           + "".join(f"\nerr_rec{_c(c)} = eps_rec * sleep_gate(t, machine) * (s_sleep{_c(c)} - q{_c(c)})"
                                     for c in range(S)) + consumed("x_rec_sleep"),
               "sleep_bias")
        for k in range(L):
            learn(R[k], "recognition", k)

    def parameter_objects(self):
        """(model-file name, Brian2 object, variable) for every parameter array."""
        out = []
        for k in range(self.L):
            out.append((f"generative_weights_{k}", self.generative[k], "w"))
            out.append((f"recognition_weights_{k}", self.recognition[k], "w"))
        for l in range(self.L + 1):
            out.append((f"generative_biases_{l}", self.layers[l], "b_gen"))
        for k in range(self.L):
            out.append((f"recognition_biases_{k}", self.layers[k + 1], "b_rec"))
        return out

    def rate_values(self, circuits):
        """{VariableView: per-unit array} of every learning rate, one circuit per machine."""
        n = self.circuit.layers

        def per_unit(l, key, idx):
            return np.repeat([c.learning_rates[key][idx] for c in circuits], n[l])

        vals = {}
        for l in range(self.L + 1):
            vals[self.layers[l].eps_b_gen] = per_unit(l, "generative_biases", l)
            if l < self.L:
                vals[self.layers[l].eps_gen] = per_unit(l, "generative_weights", l)
            if l > 0:
                vals[self.layers[l].eps_b_rec] = per_unit(l, "recognition_biases", l - 1)
                vals[self.layers[l].eps_rec] = per_unit(l, "recognition_weights", l - 1)
        return vals

    def perturbation_values(self, perturbations):
        """{VariableView: array} of every lesion mask and clamp, one perturbation per machine."""
        n = self.circuit.layers
        vals = {}
        for k in range(self.L):
            for kind, S in (("generative", self.generative[k]), ("recognition", self.recognition[k])):
                size = n[k] * n[k + 1]
                vals[S.mask] = np.concatenate([np.ones(size) if isinstance(m, float) else
                                               np.asarray(m, dtype=float).ravel()
                                               for m in (pt.mask(kind, k) for pt in perturbations)])
        for l, g in enumerate(self.layers):
            vals[g.clamped] = np.concatenate([np.full(n[l], 1.0 if l in pt.clamps else 0.0) for pt in perturbations])
            vals[g.clamp_state] = np.concatenate([np.asarray(pt.clamps[l], dtype=float) if l in pt.clamps
                                                  else np.zeros(n[l]) for pt in perturbations])
        return vals

    def parameter_values(self, params_list):
        """{VariableView: flat array} setting every weight and bias of every machine."""
        per_machine = [p.arrays() for p in params_list]
        return {getattr(obj, var): np.concatenate([np.asarray(a[name], dtype=float).ravel() for a in per_machine])
                for name, obj, var in self.parameter_objects()}  # weights (pre, post): pre-major, as connected

    def read_parameters(self) -> list:
        """Every machine's weights and biases (one Parameters per machine)."""
        N = self.n_machines
        flat = {name: np.array(getattr(obj, var)[:], dtype=float).reshape(N, -1)
                for name, obj, var in self.parameter_objects()}
        return [Parameters.from_arrays({k: v[m] for k, v in flat.items()}, self.circuit) for m in range(N)]

    def chunk_inputs(self, data, wake_gate, sleep_gate, uniforms):
        """{TimedArray: values} for one chunk, padded to the chunk length.

        Per machine: ``data[m]`` (rows, n0), gates ``(rows,)`` or None,
        ``uniforms[m]`` or None."""
        m = len(data[0])
        pad = self.chunk - m

        def padded(a):
            a = np.asarray(a, dtype=float)
            return np.concatenate([a, np.zeros((pad,) + a.shape[1:])]) if pad else a

        def gates(g):
            return np.stack([np.ones(m) if x is None else np.asarray(x, dtype=float) for x in g], axis=1)

        vals = {self.data: padded(np.concatenate([np.asarray(d, dtype=float) for d in data], axis=1)),
                self.wake_gate: padded(gates(wake_gate))}
        if getattr(self, "rule", None) is None or self.rule.sleep_update:  # else no code reads it
            vals[self.sleep_gate] = padded(gates(sleep_gate))
        if self.u_wake:
            if uniforms is None or any(u is None for u in uniforms):
                raise bad("uniforms", "this circuit was built for external uniform numbers; pass them")
            # (rows, units) or, with K samples / S fantasies, (rows, copies, units) per machine
            for l, ta in self.u_wake.items():
                vals[ta] = padded(np.concatenate([np.reshape(u.wake[l - 1], (m, -1)) for u in uniforms], axis=1))
            for l, ta in self.u_sleep.items():
                vals[ta] = padded(np.concatenate([np.reshape(u.sleep[l], (m, -1)) for u in uniforms], axis=1))
        return vals

    def read_spikes(self, m: int) -> list:
        """Per machine: dense wake and sleep samples (per layer, (m, n_l)) from the rasters."""
        out = [{"wake": [], "sleep": []} for _ in range(self.n_machines)]
        for phase in ("wake", "sleep"):
            for l, n_l in enumerate(self.circuit.layers):
                mon = self.spike_monitors[(phase, l)]
                a = np.zeros((m, self.n_machines * n_l))
                steps = np.round(np.asarray(mon.t_[:]) / float(self.dt)).astype(int)
                idx = np.asarray(mon.i[:])
                keep = (steps >= 0) & (steps < m)
                a[steps[keep], idx[keep]] = 1.0
                for k in range(self.n_machines):
                    out[k][phase].append(a[:, k * n_l:(k + 1) * n_l])
        return out

    def read_history(self, m: int, offset: int):
        """Snapshots recorded in this chunk: (examples_seen, per machine {name: array})."""
        if not self.history_monitors:
            return [], [{} for _ in range(self.n_machines)]
        any_mon = next(iter(self.history_monitors.values()))
        steps = np.round(np.asarray(any_mon.t_[:]) / float(self.example_duration)).astype(int)
        keep = steps < m
        seen = (offset + steps[keep]).tolist()
        snaps = [{} for _ in range(self.n_machines)]
        for name, obj, var in self.parameter_objects():
            vals = np.asarray(getattr(self.history_monitors[name], var))[:, keep].T  # (n_times, N * size)
            for k, part in enumerate(np.split(vals, self.n_machines, axis=1)):
                snaps[k][name] = part.copy()
        return seen, snaps


# ------------------------------------------------------------ build cache

def cache_root() -> Path:
    """Where compiled builds are kept: ``$HM_NEURO_CACHE_DIR``, else the
    user's cache folder (``$XDG_CACHE_HOME/hm_neuro`` or ``~/.cache/hm_neuro``)."""
    if os.environ.get("HM_NEURO_CACHE_DIR"):
        return Path(os.environ["HM_NEURO_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hm_neuro"


def _compiler_version() -> str:
    import subprocess

    cxx = os.environ.get("CXX", "g++")
    try:
        return subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=10).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


def build_key(**shape) -> str:
    """Hash of everything that decides the generated code of a build (and of
    the Brian2, NumPy, Python and compiler versions that turn it into a binary)."""
    import hashlib
    import json
    import platform

    import brian2

    ident = dict(shape, brian2=brian2.__version__, numpy=np.__version__, python=platform.python_version(),
                 compiler=_compiler_version(), format=2)
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:24]


class _FileLock:
    """An exclusive lock held on a file (fcntl; released if the process dies)."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(self.path, "a")
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        import fcntl

        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


def cache_entries() -> list:
    """(path, bytes) of every cached build."""
    builds = cache_root() / "builds"
    out = []
    if builds.is_dir():
        for d in sorted(p for p in builds.iterdir() if p.is_dir()):
            out.append((d, sum(f.stat().st_size for f in d.rglob("*") if f.is_file())))
    return out


def clear_cache() -> int:
    """Delete every cached build (under each entry's lock); returns how many."""
    entries = cache_entries()
    for d, _ in entries:
        with _FileLock(d.with_suffix(".lock")):
            shutil.rmtree(d, ignore_errors=True)
    return len(entries)


class Brian2Engine:
    """Train circuits on Brian2, chunk by chunk, one ``run()`` per chunk.

    Parameters
    ----------
    circuit : Circuit
        The shape (and, for one machine, the learning rates).
    device : {'numpy', 'cython', 'cpp_standalone'}
    chunk : int
        Examples per ``run()`` (a compiled standalone binary is built for this
        many steps and re-run for every chunk).
    n_machines : int
        Machines of this shape trained side by side in the one circuit (a
        population, :class:`CircuitNetwork`); see :meth:`run_population`.
    external_uniforms : bool
        Read every uniform number from ``TimedArray``s (for the exact
        equivalence tests) instead of Brian2's ``rand()``.
    build_dir : path, optional
        cpp_standalone: build here instead of the persistent cache
        (:func:`cache_root`).  A cached build is keyed by :func:`build_key`,
        built under a lock, and each engine runs a private copy of its binary,
        so concurrent processes never share a results or data folder.
    propagation : {'auto', 'summed', 'event'}
        How layer inputs and weight updates reach the synapses
        (:class:`CircuitNetwork`); 'auto' chooses by size
        (:func:`choose_propagation`).
    """

    name = "brian2"

    def __init__(self, circuit: Circuit, device: str = "cython", chunk: int = 100_000,
                 external_uniforms: bool = False, record_spikes: bool = False,
                 record_every: int = 0, build_dir=None, propagation: str = "auto", n_machines: int = 1,
                 spiking=None, record_traces: bool = False, rule="wake-sleep"):
        if device not in ("numpy", "cython", "cpp_standalone"):
            raise bad("device", "must be one of ['numpy', 'cython', 'cpp_standalone']", device)
        if chunk < 1:
            raise bad("chunk", "must be >= 1", chunk)
        if record_every < 0:
            raise bad("record_every", "must be >= 0", record_every)
        if n_machines < 1:
            raise bad("n_machines", "must be >= 1", n_machines)
        if device == "cpp_standalone" and not compiler_available():
            raise bad("device", "cpp_standalone needs a C++ compiler (g++); none found", device)
        self.circuit = circuit
        self.device = device
        self.chunk = chunk
        self.record_every = record_every
        self.n_machines = n_machines
        self.cached_build = False
        self.run_dir = None
        self.b2 = _configure_brian2(device, cache_dir=os.environ.get("HM_NEURO_CYTHON_CACHE",
                                                                     cache_root() / "cython"))
        self.spiking = spiking
        from .vectorised import Rule

        self.rule = Rule.parse(rule)
        if spiking is not None:
            self.name = "spiking"
            if not self.rule.is_default:
                raise bad("rule", f"{self.rule.label}: the spiking circuit implements the papers' wake-sleep",
                          self.rule.label)
            from .spiking import SpikingNetwork

            if external_uniforms:
                raise bad("external_uniforms", "a spiking circuit draws its own random numbers, step by step", True)
            if propagation not in ("auto", "summed"):
                raise bad("propagation", "a spiking circuit propagates summed inputs every step", propagation)
            propagation = "summed"
            self.net = SpikingNetwork(circuit, chunk, spiking, record_spikes, record_every, n_machines,
                                      record_traces=record_traces)
        else:
            if propagation == "auto":
                propagation = choose_propagation(circuit) if self.rule.is_default else "summed"
            self.net = CircuitNetwork(circuit, chunk, external_uniforms, record_spikes, record_every, propagation,
                                      n_machines, rule=self.rule)
        self.propagation = propagation
        self.compile_seconds = 0.0
        b2 = self.b2
        if device == "cpp_standalone":
            b2.device.insert_code(
                "main",
                f'if (const char* _s = std::getenv("{SEED_ENV}")) '
                "for (size_t _i = 0; _i < brian::_random_generators.size(); _i++) "
                "brian::_random_generators[_i].seed(std::stoul(_s) + _i);")
            b2.device.apply_run_args()
            self.net.network.run(chunk * self.net.example_duration,
                                 namespace={ta.name: ta for ta in self.net.timed_arrays})
            if build_dir is None:
                key = build_key(layers=list(circuit.layers), nonnegative=list(circuit.nonnegative_generative_weights_into),
                                chunk=int(chunk), propagation=propagation, record_spikes=bool(record_spikes),
                                record_every=int(record_every), external_uniforms=bool(external_uniforms),
                                n_machines=int(n_machines), spiking=None if spiking is None else spiking.key(),
                                record_traces=bool(record_traces),
                                **({} if self.rule.is_default else {"rule": self.rule.label}))
                entry = cache_root() / "builds" / key
            else:
                entry = Path(build_dir) / "standalone"
            self.build_entry = entry
            t0 = time.perf_counter()
            with _FileLock(entry.with_suffix(".lock")):
                binary = entry / "main"
                before = binary.stat().st_mtime_ns if binary.is_file() else None
                # unchanged sources are left untouched by Brian2: make recompiles nothing
                b2.device.build(directory=str(entry), compile=True, run=False, with_output=False)
                # cached: the binary was there and nothing was rebuilt (changed code, e.g. after an
                # upgrade, is rewritten and recompiled in place by Brian2 and make)
                self.cached_build = before is not None and binary.stat().st_mtime_ns == before
                # a private copy of the binary and its data: runs never share a folder
                self.run_dir = Path(tempfile.mkdtemp(prefix="hm_neuro_run_"))
                shutil.copy2(entry / "main", self.run_dir / "main")
                shutil.copytree(entry / "static_arrays", self.run_dir / "static_arrays")
            self.compile_seconds = time.perf_counter() - t0
            b2.get_device().project_dir = str(self.run_dir)  # run_args arrays go to the private copy
            logger.info("%s for %s (%s): %s in %.1f s",
                        "cached build, compiled nothing" if self.cached_build else "build compiled",
                        list(circuit.layers), f"{n_machines} machine(s)", entry, self.compile_seconds)
        else:
            self.net.network.store("initial")

    def run(self, params: Parameters, data, seed: int, wake_gate=None, sleep_gate=None,
            uniforms: Uniforms | None = None, offset: int = 0, perturbation=NO_PERTURBATION):
        """One machine (a population of one): see :class:`hm_neuro.engines.Engine`."""
        if self.n_machines != 1:
            raise bad("run", f"this engine trains {self.n_machines} machines; use run_population")
        out, extras = self.run_population([params], [data], [seed], [wake_gate], [sleep_gate],
                                          None if uniforms is None else [uniforms], offset, [perturbation])
        return out[0], extras[0]

    def run_population(self, params, data, seeds, wake_gate=None, sleep_gate=None, uniforms=None,
                       offset: int = 0, perturbation=None, circuits=None):
        """Train every machine of the population on its own rows (at most ``chunk``).

        Per machine (lists of length ``n_machines``): ``params``, ``data``
        (rows, n0; every machine the same number of rows), ``wake_gate`` and
        ``sleep_gate`` (rows,) or None, ``uniforms``, ``perturbation``, and
        ``circuits`` (same shape, each with its own learning rates; default
        the engine's circuit), ``seeds``.  Brian2 has one random generator
        for the whole circuit, seeded from all the machines' seeds (from the
        one seed for a single machine): without external uniforms a
        machine's samples depend on the population it is trained in.

        Returns ``(params_list, extras_list)``.
        """
        b2 = self.b2
        N = self.n_machines
        lists = {"params": params, "data": data}
        for key, value in (("wake_gate", wake_gate), ("sleep_gate", sleep_gate), ("perturbation", perturbation),
                           ("circuits", circuits), ("uniforms", uniforms)):
            lists[key] = [None] * N if value is None else value
        for key, value in lists.items():
            if len(value) != N:
                raise bad(key, f"needs one entry per machine ({N})", len(value))
        rows = {len(d) for d in lists["data"]}
        if len(rows) != 1:
            raise bad("data", "every machine of a population trains on the same number of rows", sorted(rows))
        m = rows.pop()
        if m > self.chunk:
            raise bad("data", f"a chunk holds at most {self.chunk} examples", m)
        circuits = [c or self.circuit for c in lists["circuits"]]
        for c in circuits:
            self._check_shape(c)
        perturbations = [pt or NO_PERTURBATION for pt in lists["perturbation"]]
        if self.propagation == "event":
            for p in lists["params"]:
                for k in self.circuit.nonnegative_generative_weights_into:
                    if np.min(p.generative_weights[k]) < 0:
                        raise bad(f"generative_weights_{k}", "event-driven propagation clips only the synapses it "
                                  "updates, so weights kept >= 0 must start >= 0 (use propagation='summed')",
                                  float(np.min(p.generative_weights[k])))
        values = dict(self.net.rate_values(circuits))
        values.update(self.net.parameter_values(lists["params"]))
        values.update(self.net.perturbation_values(perturbations))
        values.update(self.net.chunk_inputs(lists["data"], lists["wake_gate"], lists["sleep_gate"],
                                            None if uniforms is None else lists["uniforms"]))
        if len(seeds) != N:
            raise bad("seeds", f"needs one entry per machine ({N})", len(seeds))
        seed = int(seeds[0]) if N == 1 else int(np.random.SeedSequence([int(s) for s in seeds]).generate_state(1)[0])
        seed %= 2 ** 32 - 1024
        if self.device == "cpp_standalone":
            b2.device.run_environment_variables[SEED_ENV] = str(seed)
            try:
                # results into the private run folder too (Brian2's default is the build's own folder,
                # which concurrent processes of one shape would share)
                b2.device.run(directory=str(self.run_dir), results_directory="results", with_output=False,
                              run_args=values)
            finally:
                os.environ.pop(SEED_ENV, None)  # Brian2 exports it; leave the environment as it was
                b2.device.delete(code=False, data=False, run_args=True, directory=False, force=True)
        else:
            self.net.network.restore("initial")
            namespace = {}
            for key, v in values.items():
                if isinstance(key, b2.TimedArray):
                    namespace[key.name] = b2.TimedArray(v, dt=self.net.example_duration, name=key.name)
                else:
                    key[:] = v
            b2.seed(seed)
            self.net.network.run(m * self.net.example_duration, namespace=namespace)
        extras = [{} for _ in range(N)]
        if self.net.spike_monitors:
            for e, s in zip(extras, self.net.read_spikes(m)):
                e.update(s)
        if getattr(self.net, "trace_monitors", None):
            for e, s in zip(extras, self.net.read_traces(m)):
                e["traces"] = s
        seen, snaps = self.net.read_history(m, offset)
        for e, s in zip(extras, snaps):
            e["history_seen"], e["history"] = list(seen), s
        return self.net.read_parameters(), extras

    def _check_shape(self, circuit: Circuit):
        same = (circuit.layers == self.circuit.layers and
                circuit.nonnegative_generative_weights_into == self.circuit.nonnegative_generative_weights_into)
        if not same:
            raise bad("circuit", f"this build is for layers {list(self.circuit.layers)} with constraints "
                      f"{list(self.circuit.nonnegative_generative_weights_into)}", circuit.name)

    def retarget(self, circuit: Circuit):
        """Train another circuit of the same compiled shape (e.g. other learning rates)."""
        self._check_shape(circuit)
        self.circuit = self.net.circuit = circuit

    def close(self):
        """Forget Brian2's device state and delete this engine's private run folder.

        The Brian2 objects are released too: Brian2 names a code object after
        its owner unless that name is taken by a live object, so a circuit
        built while an old one is alive would generate ``..._1`` sources, and
        a cached build would recompile."""
        import gc

        if self.device == "cpp_standalone":
            self.b2.device.reinit()
            self.b2.set_device("runtime")
        self.net = None
        gc.collect()
        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
