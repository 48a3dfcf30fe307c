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

so a whole training run (or a chunk of it) is ONE ``run()`` call.  Learning
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

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .circuit import Circuit
from .errors import bad
from .reference import NO_PERTURBATION, Parameters, Uniforms

logger = logging.getLogger(__name__)

DEVICES = ("numpy", "cython", "cpp_standalone")
#: how a layer's input is computed: summed variables over every synapse, or
#: on_pre code triggered by the units that are on (see CircuitNetwork)
PROPAGATIONS = ("summed", "event")
#: environment variable through which a compiled binary receives its seed
SEED_ENV = "HM_NEURO_SEED"


def sigmoid(x: str) -> str:
    """Eq. 1 as Brian2 code."""
    return f"1.0 / (1.0 + exp(-({x})))"


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


def _configure_brian2(device: str, cache_dir=None):
    import brian2 as b2

    b2.prefs.logging.file_log = False
    b2.prefs.logging.console_log_level = "WARNING"
    b2.prefs.logging.delete_log_on_exit = True
    if cache_dir is not None:
        b2.prefs.codegen.runtime.cython.cache_dir = str(cache_dir)
    b2.prefs.codegen.runtime.cython.multiprocess_safe = True
    # Brian2's device is global: start every engine from a clean one
    if device == "cpp_standalone":
        b2.device.reinit()
        b2.set_device("cpp_standalone", build_on_run=False)
    else:
        from brian2.devices.device import RuntimeDevice

        if not isinstance(b2.get_device(), RuntimeDevice):
            b2.device.reinit()
        b2.set_device("runtime")
        b2.prefs.codegen.target = device
    return b2


class CircuitNetwork:
    """The Brian2 objects of one machine, with ``chunk`` examples per run.

    Attributes ``layers`` (list of NeuronGroups), ``recognition`` and
    ``generative`` (lists of Synapses, index k joins layers k and k+1) and
    ``network`` are public so that experiments can add monitors before the
    first run.
    """

    def __init__(self, circuit: Circuit, chunk: int, external_uniforms: bool,
                 record_spikes: bool = False, record_every: int = 0, propagation: str = "summed"):
        import brian2 as b2

        if propagation not in PROPAGATIONS:
            raise bad("propagation", f"must be one of {list(PROPAGATIONS)}", propagation)
        self.propagation = propagation
        event = propagation == "event"
        self.circuit = circuit
        self.chunk = int(chunk)
        n = circuit.layers
        L = len(n) - 1
        self.L = L
        dt = b2.defaultclock.dt
        self.dt = dt
        # --- inputs of the phase controller, replaced chunk by chunk
        self.data = b2.TimedArray(np.zeros((chunk, n[0])), dt=dt, name="data")
        self.wake_gate = b2.TimedArray(np.ones(chunk), dt=dt, name="wake_gate")
        self.sleep_gate = b2.TimedArray(np.ones(chunk), dt=dt, name="sleep_gate")
        self.timed_arrays = [self.data, self.wake_gate, self.sleep_gate]
        self.u_wake, self.u_sleep = {}, {}
        if external_uniforms:
            for l in range(L + 1):
                self.u_sleep[l] = b2.TimedArray(np.zeros((chunk, n[l])), dt=dt, name=f"u_sleep_{l}")
                if l > 0:
                    self.u_wake[l] = b2.TimedArray(np.zeros((chunk, n[l])), dt=dt, name=f"u_wake_{l}")
            self.timed_arrays += list(self.u_wake.values()) + list(self.u_sleep.values())

        def U(phase, l):
            table = self.u_wake if phase == "wake" else self.u_sleep
            return f"u_{phase}_{l}(t, i)" if table else "rand()"

        objects = []
        self.layers = []
        for l in range(L + 1):
            eqs = ["s_wake : 1  # wake (recognition) sample",
                   "s_sleep : 1  # sleep (fantasy) sample",
                   "p : 1  # generative probability, eq. 1",
                   "b_gen : 1  # generative bias",
                   "eps_b_gen : 1 (shared)  # its learning rate",
                   "clamped : 1 (shared)  # 1: the layer is held at clamp_state in both phases",
                   "clamp_state : 1"]
            if l < L:
                eqs += ["x_gen_wake : 1  # top-down input from the wake sample above",
                        "x_gen_sleep : 1  # top-down input from the fantasy above"]
            if l > 0:
                eqs += ["q : 1  # recognition probability, eq. 1",
                        "b_rec : 1  # recognition bias",
                        "eps_b_rec : 1 (shared)  # its learning rate",
                        "x_rec_wake : 1  # bottom-up input from the wake sample below",
                        "x_rec_sleep : 1  # bottom-up input from the fantasy below"]
            events = {"wake": "s_wake > 0.5", "sleep": "s_sleep > 0.5"} if (record_spikes or event) else None
            g = b2.NeuronGroup(n[l], "\n".join(eqs), events=events, name=f"layer_{l}")
            g.state_updater.active = False
            self.layers.append(g)
            objects.append(g)

        # the delta rules (eq. 4 wake, eq. 7 sleep); the factor s_pre is the
        # event itself in event-driven propagation, explicit when summed
        self.learn_code = {}
        self.recognition, self.generative = [], []
        for k in range(L):
            lower, upper = self.layers[k], self.layers[k + 1]
            self.learn_code[("recognition", k)] = "w += eps * sleep_gate(t) * mask * s_sleep_pre * (s_sleep_post - q_post)"
            dw = "eps * wake_gate(t) * mask * s_wake_pre * (s_wake_post - p_post)"
            self.learn_code[("generative", k)] = f"w = clip(w + {dw}, 0, inf)" if circuit.nonnegative(k) else f"w += {dw}"
            ii, jj = np.divmod(np.arange(n[k] * n[k + 1]), n[k + 1])  # pre-major: (i lower, j upper)
            R = b2.Synapses(lower, upper, name=f"recognition_{k}",
                            **self._synapse_args("rec", "R_jk", self.learn_code[("recognition", k)], event))
            R.connect(i=ii, j=jj)
            ii, jj = np.divmod(np.arange(n[k + 1] * n[k]), n[k])  # pre-major: (i upper, j lower)
            G = b2.Synapses(upper, lower, name=f"generative_{k}",
                            **self._synapse_args("gen", "G_kj", self.learn_code[("generative", k)], event))
            G.connect(i=ii, j=jj)
            self.recognition.append(R)
            self.generative.append(G)
            objects += [R, G]

        self.phase_schedule(U)
        self.network = b2.Network(objects)
        self.spike_monitors = {}
        if record_spikes:
            for l, g in enumerate(self.layers):
                for phase in ("wake", "sleep"):
                    m = b2.EventMonitor(g, phase, record=True, name=f"{phase}_raster_{l}")
                    self.spike_monitors[(phase, l)] = m
                    self.network.add(m)
        self.history_monitors = {}
        if record_every:
            for name, obj, var in self.parameter_objects():
                m = b2.StateMonitor(obj, var, record=True, dt=record_every * dt, when="before_start",
                                    name=f"history_{name}")
                self.history_monitors[name] = m
                self.network.add(m)

    @staticmethod
    def _synapse_args(pathway: str, weight: str, learn: str, event: bool) -> dict:
        """Synapses arguments of a recognition ('rec') or generative ('gen') set.

        summed: the inputs are summed variables over every synapse and
        learning a ``run_regularly`` over every synapse.  event: a unit that
        is on emits a ``wake`` or ``sleep`` event, and ``on_pre`` code adds
        its weights to its targets' inputs and applies the delta rule, so only
        the synapses of active presynaptic units are touched.
        """
        import brian2 as b2

        model = (f"w : 1  # {'recognition' if pathway == 'rec' else 'generative'} weight {weight}\n"
                 "mask : 1  # 0: lesioned (silent, does not learn)\n"
                 "eps : 1 (shared)\n")
        if not event:
            return {"model": model + f"x_{pathway}_wake_post = mask * w * s_wake_pre : 1 (summed)\n"
                                     f"x_{pathway}_sleep_post = mask * w * s_sleep_pre : 1 (summed)\n"}
        phase = "sleep" if pathway == "rec" else "wake"
        on_pre = {"wake_input": f"x_{pathway}_wake_post += mask * w",
                  "sleep_input": f"x_{pathway}_sleep_post += mask * w",
                  "learn": learn.replace(f"s_{phase}_pre * ", "")}
        on_event = {"wake_input": "wake", "sleep_input": "sleep", "learn": phase}
        return {"model": model, "on_pre": on_pre, "on_event": on_event,
                "delay": {key: 0 * b2.second for key in on_pre}}

    # ------------------------------------------------------------------
    def phase_schedule(self, U):
        """The phase controller: one example per step, ordered in 'start'.

        With summed propagation an input is a summed variable, recomputed
        when needed; with event-driven propagation the units that are on emit
        an event right after they are sampled, the synapses of those units add
        to the targets' inputs, and the layer that reads an input resets it to
        0 for the next example.
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

        lay, R, G = self.layers, self.recognition, self.generative
        # wake: clamp the data vector, then recognise bottom-up (eq. 1)
        op(lay[0], "s_wake = data(t, i)", "clamp")
        emit(lay[0], "wake")
        for k in range(L):
            propagate(R[k], "x_rec_wake", "wake")
            op(lay[k + 1], f"q = {sigmoid('b_rec + x_rec_wake')}\n"
                           f"s_wake = clamped * clamp_state + (1 - clamped) * int({U('wake', k + 1)} < q)"
                           + consumed("x_rec_wake"), "recognise")
            emit(lay[k + 1], "wake")
        # wake learning: generative predictions, delta rule (eq. 4)
        for k in range(L):
            propagate(G[k], "x_gen_wake", "wake")
        for l in range(L + 1):
            drive = "b_gen" if l == L else "b_gen + x_gen_wake"
            op(lay[l], f"p = {sigmoid(drive)}\n"
                       f"b_gen += eps_b_gen * wake_gate(t) * (s_wake - p)" + (consumed("x_gen_wake") if l < L else ""),
               "wake_bias")
        for k in range(L):
            learn(G[k], "generative", k)
        # sleep: fantasy top-down (eq. 1)
        op(lay[L], f"p = {sigmoid('b_gen')}\n"
                   f"s_sleep = clamped * clamp_state + (1 - clamped) * int({U('sleep', L)} < p)", "dream")
        emit(lay[L], "sleep")
        for k in range(L - 1, -1, -1):
            propagate(G[k], "x_gen_sleep", "sleep")
            op(lay[k], f"p = {sigmoid('b_gen + x_gen_sleep')}\n"
                       f"s_sleep = clamped * clamp_state + (1 - clamped) * int({U('sleep', k)} < p)"
                       + consumed("x_gen_sleep"), "dream")
            emit(lay[k], "sleep")
        # sleep learning: recognition predictions of the fantasy, delta rule (eq. 7)
        for k in range(L):
            propagate(R[k], "x_rec_sleep", "sleep")
            op(lay[k + 1], f"q = {sigmoid('b_rec + x_rec_sleep')}\n"
                           f"b_rec += eps_b_rec * sleep_gate(t) * (s_sleep - q)" + consumed("x_rec_sleep"),
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

    def rate_values(self):
        """{VariableView: value} of every learning rate of the circuit."""
        lr = self.circuit.learning_rates
        vals = {}
        for k in range(self.L):
            vals[self.generative[k].eps] = lr["generative_weights"][k]
            vals[self.recognition[k].eps] = lr["recognition_weights"][k]
            vals[self.layers[k + 1].eps_b_rec] = lr["recognition_biases"][k]
        for l in range(self.L + 1):
            vals[self.layers[l].eps_b_gen] = lr["generative_biases"][l]
        return vals

    def perturbation_values(self, pt):
        """{VariableView: value} of every lesion mask and clamp (intact: 1s, no clamps)."""
        n = self.circuit.layers
        vals = {}
        for k in range(self.L):
            for kind, S in (("generative", self.generative[k]), ("recognition", self.recognition[k])):
                m = pt.mask(kind, k)
                size = n[k] * n[k + 1]
                vals[S.mask] = np.ones(size) if isinstance(m, float) else np.asarray(m, dtype=float).ravel()
        for l, g in enumerate(self.layers):
            clamped = l in pt.clamps
            vals[g.clamped] = 1.0 if clamped else 0.0
            vals[g.clamp_state] = np.asarray(pt.clamps[l], dtype=float) if clamped else np.zeros(n[l])
        return vals

    def parameter_values(self, params: Parameters):
        """{VariableView: flat array} setting every weight and bias."""
        arrays = params.arrays()
        out = {}
        for name, obj, var in self.parameter_objects():
            a = np.asarray(arrays[name], dtype=float)
            out[getattr(obj, var)] = a.ravel()  # weights are (pre, post): pre-major, as connected
        return out

    def read_parameters(self) -> Parameters:
        """Every weight and bias (flat, pre-major; from_arrays restores the shapes)."""
        arrays = {name: np.array(getattr(obj, var)[:], dtype=float) for name, obj, var in self.parameter_objects()}
        return Parameters.from_arrays(arrays, self.circuit)

    def chunk_inputs(self, data, wake_gate, sleep_gate, uniforms):
        """{TimedArray: values} for one chunk, padded to the chunk length."""
        m = len(data)
        pad = self.chunk - m

        def padded(a):
            a = np.asarray(a, dtype=float)
            return np.concatenate([a, np.zeros((pad,) + a.shape[1:])]) if pad else a

        vals = {self.data: padded(data),
                self.wake_gate: padded(np.ones(m) if wake_gate is None else wake_gate),
                self.sleep_gate: padded(np.ones(m) if sleep_gate is None else sleep_gate)}
        if self.u_wake:
            if uniforms is None:
                raise bad("uniforms", "this circuit was built for external uniform numbers; pass them")
            for l, ta in self.u_wake.items():
                vals[ta] = padded(uniforms.wake[l - 1])
            for l, ta in self.u_sleep.items():
                vals[ta] = padded(uniforms.sleep[l])
        return vals

    def read_spikes(self, m: int):
        """Dense wake and sleep samples (per layer, (m, n_l)) from the rasters."""
        out = {"wake": [], "sleep": []}
        for phase in ("wake", "sleep"):
            for l, n_l in enumerate(self.circuit.layers):
                mon = self.spike_monitors[(phase, l)]
                a = np.zeros((m, n_l))
                steps = np.round(np.asarray(mon.t_[:]) / float(self.dt)).astype(int)
                idx = np.asarray(mon.i[:])
                keep = (steps >= 0) & (steps < m)
                a[steps[keep], idx[keep]] = 1.0
                out[phase].append(a)
        return out

    def read_history(self, m: int, offset: int):
        """Snapshots recorded in this chunk: (examples_seen, {name: array})."""
        if not self.history_monitors:
            return [], {}
        any_mon = next(iter(self.history_monitors.values()))
        steps = np.round(np.asarray(any_mon.t_[:]) / float(self.dt)).astype(int)
        keep = steps < m
        seen = (offset + steps[keep]).tolist()
        snaps = {}
        for name, obj, var in self.parameter_objects():
            vals = np.asarray(getattr(self.history_monitors[name], var))  # (n_elements, n_times)
            snaps[name] = vals[:, keep].T.copy()
        return seen, snaps


class Brian2Engine:
    """Train a circuit on Brian2, chunk by chunk, one ``run()`` per chunk.

    Parameters
    ----------
    circuit : Circuit
    device : {'numpy', 'cython', 'cpp_standalone'}
    chunk : int
        Examples per ``run()`` (a compiled standalone binary is built for this
        many steps and re-run for every chunk).
    external_uniforms : bool
        Read every uniform number from ``TimedArray``s (for the exact
        equivalence tests) instead of Brian2's ``rand()``.
    build_dir : path, optional
        Standalone build directory; a fresh temporary one by default, so that
        parallel processes never share one.
    propagation : {'auto', 'summed', 'event'}
        How layer inputs and weight updates reach the synapses
        (:class:`CircuitNetwork`); 'auto' chooses by size
        (:func:`choose_propagation`).
    """

    def __init__(self, circuit: Circuit, device: str = "cython", chunk: int = 100_000,
                 external_uniforms: bool = False, record_spikes: bool = False,
                 record_every: int = 0, build_dir=None, propagation: str = "auto"):
        if device not in DEVICES:
            raise bad("device", f"must be one of {list(DEVICES)}", device)
        if chunk < 1:
            raise bad("chunk", "must be >= 1", chunk)
        if record_every < 0:
            raise bad("record_every", "must be >= 0", record_every)
        if device == "cpp_standalone" and not compiler_available():
            raise bad("device", "cpp_standalone needs a C++ compiler (g++); none found", device)
        self.circuit = circuit
        self.device = device
        self.chunk = chunk
        self.record_every = record_every
        self._own_dir = build_dir is None
        self.build_dir = Path(build_dir) if build_dir else Path(tempfile.mkdtemp(prefix="hm_neuro_build_"))
        self.b2 = _configure_brian2(device, cache_dir=os.environ.get("HM_NEURO_CYTHON_CACHE"))
        if propagation == "auto":
            propagation = choose_propagation(circuit)
        self.propagation = propagation
        self.net = CircuitNetwork(circuit, chunk, external_uniforms, record_spikes, record_every, propagation)
        self.compile_seconds = 0.0
        b2 = self.b2
        if device == "cpp_standalone":
            b2.device.insert_code(
                "main",
                f'if (const char* _s = std::getenv("{SEED_ENV}")) '
                "for (size_t _i = 0; _i < brian::_random_generators.size(); _i++) "
                "brian::_random_generators[_i].seed(std::stoul(_s) + _i);")
            b2.device.apply_run_args()
            self.net.network.run(chunk * self.net.dt,
                                 namespace={ta.name: ta for ta in self.net.timed_arrays})
            t0 = time.perf_counter()
            b2.device.build(directory=str(self.build_dir / "standalone"), compile=True, run=False,
                            with_output=False)
            self.compile_seconds = time.perf_counter() - t0
        else:
            self.net.network.store("initial")

    def run(self, params: Parameters, data, seed: int, wake_gate=None, sleep_gate=None,
            uniforms: Uniforms | None = None, offset: int = 0, perturbation=NO_PERTURBATION):
        """Train on the rows of ``data`` (at most ``chunk`` of them).

        Returns ``(new_params, extras)`` where ``extras`` holds the recorded
        samples (``'wake'``/``'sleep'`` if built with ``record_spikes``) and
        weight history (``'history_seen'``, ``'history'``).  ``offset`` is the
        number of examples seen before this chunk (for the history labels).
        """
        b2 = self.b2
        m = len(data)
        if self.propagation == "event":
            for k in self.circuit.nonnegative_generative_weights_into:
                if np.min(params.generative_weights[k]) < 0:
                    raise bad(f"generative_weights_{k}", "event-driven propagation clips only the synapses it "
                              "updates, so weights kept >= 0 must start >= 0 (use propagation='summed')",
                              float(np.min(params.generative_weights[k])))
        if m > self.chunk:
            raise bad("data", f"a chunk holds at most {self.chunk} examples", m)
        values = dict(self.net.rate_values())
        values.update(self.net.parameter_values(params))
        values.update(self.net.perturbation_values(perturbation))
        values.update(self.net.chunk_inputs(data, wake_gate, sleep_gate, uniforms))
        seed = int(seed) % (2 ** 32 - 1024)
        if self.device == "cpp_standalone":
            b2.device.run_environment_variables[SEED_ENV] = str(seed)
            b2.device.run(directory=str(self.build_dir / "standalone"), with_output=False, run_args=values)
            os.environ.pop(SEED_ENV, None)  # Brian2 exports it; leave the environment as it was
            b2.device.delete(code=False, data=False, run_args=True, directory=False, force=True)
        else:
            self.net.network.restore("initial")
            namespace = {}
            for key, v in values.items():
                if isinstance(key, b2.TimedArray):
                    namespace[key.name] = b2.TimedArray(v, dt=self.net.dt, name=key.name)
                else:
                    key[:] = v
            b2.seed(seed)
            self.net.network.run(m * self.net.dt, namespace=namespace)
        extras = {}
        if self.net.spike_monitors:
            extras.update(self.net.read_spikes(m))
        seen, snaps = self.net.read_history(m, offset)
        extras["history_seen"], extras["history"] = seen, snaps
        return self.net.read_parameters(), extras

    def retarget(self, circuit: Circuit):
        """Train another circuit of the same compiled shape (e.g. other learning rates)."""
        same = (circuit.layers == self.circuit.layers and
                circuit.nonnegative_generative_weights_into == self.circuit.nonnegative_generative_weights_into)
        if not same:
            raise bad("circuit", f"this build is for layers {list(self.circuit.layers)} with constraints "
                      f"{list(self.circuit.nonnegative_generative_weights_into)}", circuit.name)
        self.circuit = self.net.circuit = circuit

    def close(self):
        """Forget Brian2's device state and delete a temporary build directory."""
        if self.device == "cpp_standalone":
            self.b2.device.reinit()
            self.b2.set_device("runtime")
        if self._own_dir:
            shutil.rmtree(self.build_dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
