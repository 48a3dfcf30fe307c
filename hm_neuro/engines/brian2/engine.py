"""The Brian2 engine: trains populations of circuits, one ``run()`` per chunk."""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ... import interrupts
from ...errors import bad
from ...log import progress as progress_log
from ...model import Circuit
from ..base import Chunk, EngineBase
from ..options import DEVICES
from .binary import BinaryNetwork, choose_propagation
from .cache import (
    RECORD,
    FileLock,
    build_key,
    cache_root,
    check_cache,
    check_toolchain,
    compiler_cache,
    damage,
    precompiled_header,
    record_build,
    what_is_new,
)
from .code import PHILOX, STOCHASTIC_FLOOR
from .device import SEED_ENV, configure, default_device, terminate_children
from .spiking import SpikingNetwork

logger = logging.getLogger(__name__)

#: the Brian2 objects that live as long as Brian2 (its default clock and magic network)
BRIAN2_SINGLETONS = ("defaultclock", "magicnetwork")


def _release_earlier_circuits():
    """Brian2 names an object after its owner unless a live object holds the
    name: collect what earlier circuits left (an engine whose construction
    failed, one a caller still unwinds), so a new circuit gets the names --
    and the sources -- of its cached build.  Only when a Brian2 object is
    still alive (but Brian2's own singletons): a full collection scans the
    whole process (~0.1 s in a large one), and a closed engine has collected
    its own."""
    from brian2.core.names import Nameable

    alive = (ref() for ref in list(Nameable.__instances__()))
    if any(obj is not None and obj.name not in BRIAN2_SINGLETONS for obj in alive):
        gc.collect()


class Brian2Engine(EngineBase):
    """Train circuits on Brian2, chunk by chunk, one ``run()`` per chunk.

    Built by :func:`hm_neuro.engines.make_engine` from
    :class:`hm_neuro.engines.EngineOptions`: the binary circuit
    (:class:`.binary.BinaryNetwork`) or the spiking one
    (:class:`.spiking.SpikingNetwork`) of ``n_machines`` machines of the
    circuit's shape.  On cpp_standalone the circuit is compiled once per
    shape and chunk length (the build cache, :mod:`.cache`: keyed by
    :func:`.cache.build_key`, built under a lock) and each engine runs a
    private copy of its binary, so concurrent processes never share a
    results or data folder.  ``net`` is the network (its layers, synapses
    and Brian2 ``network``); ``monitors`` the user's monitors.
    """

    name = "brian2"

    @classmethod
    def from_options(cls, circuit: Circuit, options, n_machines: int = 1) -> Brian2Engine:
        """The engine :func:`hm_neuro.engines.make_engine` builds: the binary
        circuit, or the spiking one (``options.engine == 'spiking'``, dynamics
        from ``options.spiking`` or the circuit's ``[dynamics]`` table)."""
        if options.engine == "spiking":
            options = options.replace(spiking=options.spiking or circuit.spiking())
        return cls(circuit, options.replace(device=options.device or default_device()), n_machines)

    def __init__(self, circuit: Circuit, options, n_machines: int = 1):
        self.last_offset = 0
        device = options.device
        if device not in DEVICES:
            raise bad("device", f"must be one of {list(DEVICES)}", device)
        if device == "cpp_standalone":
            check_toolchain()
            if options.build_dir is None:
                check_cache()
        self.circuit = circuit
        self.options = options
        self.device = device
        self.chunk = chunk = options.chunk
        self.record_every = options.record_every
        self.n_machines = n_machines
        self.cached_build = False
        self.run_dir = None
        _release_earlier_circuits()
        self.b2 = configure(device, cache_dir=os.environ.get("HM_NEURO_CYTHON_CACHE", cache_root() / "cython"))
        self.spiking = spiking = options.spiking
        self.rule = options.rule
        self.rng = options.rng
        if spiking is not None:
            self.name = "spiking"
            if options.external_uniforms:
                raise bad("external_uniforms", "a spiking circuit draws its own random numbers, step by step", True)
            if options.propagation not in ("auto", "summed"):
                raise bad("propagation", "a spiking circuit propagates summed inputs every step", options.propagation)
            self.propagation = "summed"
            self.net = SpikingNetwork(circuit, chunk, n_machines, options)
        else:
            propagation = options.propagation
            if propagation == "auto":
                default = self.rule.is_default and circuit.plasticity.is_default
                propagation = choose_propagation(circuit) if default else "summed"
            self.propagation = propagation
            self.net = BinaryNetwork(circuit, chunk, n_machines, options.replace(propagation=propagation))
        self.compile_seconds = 0.0
        if device == "cpp_standalone":
            self._build()
        else:
            self.net.network.store("initial")

    def _build(self):
        """Build (or find in the cache) the compiled binary of this circuit,
        and copy it to a private run folder."""
        b2, options, circuit = self.b2, self.options, self.circuit
        b2.device.insert_code(
            "main",
            f'if (const char* _s = std::getenv("{SEED_ENV}")) '
            "for (size_t _i = 0; _i < brian::_random_generators.size(); _i++) "
            "brian::_random_generators[_i].seed(std::stoul(_s) + _i);",
        )
        b2.device.apply_run_args()
        self.net.network.run(self.chunk * self.net.example_duration, namespace=self._namespace())
        if options.build_dir is None:
            spiking = options.spiking
            fields = dict(
                layers=list(circuit.layers),
                nonnegative=list(circuit.nonnegative_generative_weights_into),
                chunk=int(self.chunk),
                propagation=self.propagation,
                record_spikes=bool(options.record_spikes),
                record_every=int(options.record_every),
                external_uniforms=bool(options.external_uniforms),
                n_machines=int(self.n_machines),
                spiking=None if spiking is None else spiking.key(),
                record_traces=bool(options.record_traces),
                **({} if self.rule.is_default else {"rule": self.rule.label}),
                **({} if options.monitors is None else {"monitors": self._monitor_key()}),
                **({} if not options.data_rows else {"data_rows": int(options.data_rows)}),
                **({} if options.rng == "philox" else {"rng": options.rng}),
                **({} if circuit.precision.exact else {"roundings": circuit.precision.roundings()}),
                **(
                    {}
                    if circuit.plasticity.is_default
                    else {"plasticity": circuit.plasticity.key(), "fp_contract": "off"}
                ),
                **({"lateral": circuit.lateral.structure()} if circuit.lateral else {}),
            )
            entry = cache_root() / "builds" / build_key(**fields)
        else:
            fields, entry = None, Path(options.build_dir) / "standalone"
        self.build_fields = fields
        self.build_entry = entry
        t0 = time.perf_counter()
        with interrupts.on_stop(terminate_children), FileLock(entry.with_suffix(".lock")):
            self.cached_build = self._compile(entry)
            # a private copy of the binary and its data: runs never share a folder
            self.run_dir = Path(tempfile.mkdtemp(prefix="hm_neuro_run_"))
            shutil.copy2(entry / "main", self.run_dir / "main")
            shutil.copytree(entry / "static_arrays", self.run_dir / "static_arrays")
        self.compile_seconds = time.perf_counter() - t0
        b2.get_device().project_dir = str(self.run_dir)  # run_args arrays go to the private copy
        logger.info(
            "%s for %s (%s): %s in %.1f s",
            "cached build, compiled nothing" if self.cached_build else "build compiled",
            list(circuit.layers),
            f"{self.n_machines} machine(s)",
            entry,
            self.compile_seconds,
        )

    def _compile(self, entry: Path) -> bool:
        """Build into ``entry`` (under its lock); True when a complete,
        verified build was found there and nothing was compiled.  A build
        whose files differ from its record (or that has none: interrupted,
        or older than records) is deleted and built again from scratch, said
        in one line; a build that fails leaves no folder behind."""
        b2, circuit = self.b2, self.circuit
        binary = entry / "main"
        if entry.exists():
            problem = damage(entry)
            if problem is not None:
                progress_log.info("build cache: %s is unusable (%s): building it again from scratch", entry, problem)
                shutil.rmtree(entry)
        found = binary.is_file()
        if not found:
            progress_log.info(
                "compiling the circuit for layers %s x%d on cpp_standalone (once per shape, ~10-40 s)%s",
                list(circuit.layers),
                self.n_machines,
                "" if self.build_fields is None else "; " + what_is_new(self.build_fields),
            )
        before = binary.stat().st_mtime_ns if found else None
        try:
            (entry / RECORD).unlink(missing_ok=True)  # whole again only when this build is
            with compiler_cache():  # ccache where installed
                # the standard headers precompiled once per compiler and flags (the same objects, compiled
                # ~2x faster; through ccache too, so that its bytes, and then every compile, are found again);
                # held with a shared lock while make uses it
                with precompiled_header(b2.codegen.cpp_prefs.get_compiler_and_args()[1]) as header:
                    args = [] if header is None else ["-include", str(header)]
                    if not circuit.plasticity.is_default:
                        # a declared rule's floor() must fall at a tie as on the NumPy engines:
                        # no fused multiply-adds (Brian2 compiles with -ffast-math -march=native)
                        args.append("-ffp-contract=off")
                    b2.get_device().extra_compile_args = args
                    # unchanged sources are left untouched by Brian2: make recompiles nothing
                    b2.device.build(directory=str(entry), compile=True, run=False, with_output=False)
            record_build(entry, self.build_fields)
        except BaseException:
            shutil.rmtree(entry, ignore_errors=True)
            raise
        # cached: the binary was there and nothing was rebuilt (changed code, e.g. after an
        # upgrade, is rewritten and recompiled in place by Brian2 and make)
        return before is not None and binary.stat().st_mtime_ns == before

    def request_stop(self):
        """A signal during a chunk (:mod:`hm_neuro.interrupts`): Brian2's
        runtime ``Network`` stops at the end of its current time step; a
        compiled binary (or a compiler) is terminated."""
        self.stop_requested = True
        if self.device == "cpp_standalone":
            terminate_children()
        elif self.net is not None:
            self.net.network.stop()

    def _namespace(self, timed_arrays=None) -> dict:
        """What the circuit's code refers to: its TimedArrays and the stream's function."""
        timed = timed_arrays if timed_arrays is not None else {ta.name: ta for ta in self.net.timed_arrays}
        return {**timed, "philox_uniform": PHILOX, "stochastic_floor": STOCHASTIC_FLOOR}

    def _monitor_key(self) -> list:
        """What the user's monitors add to the generated code (their names, classes and
        recorded variables: sorted, an EventMonitor's are a set, whose order differs between
        processes)."""
        return sorted(
            (name, type(m).__name__, str(sorted(getattr(m, "record_variables", ()))))
            for name, m in self.net.user_monitors.items()
        )

    @property
    def monitors(self) -> dict:
        """The user's monitors (:class:`hm_neuro.engines.EngineOptions`), by
        name; after a run each holds that run's (chunk's) recording, times
        from 0 at the chunk's first example."""
        return self.net.user_monitors

    def phase_labels(self, monitor) -> dict:
        """Every time ``monitor`` (one of :attr:`monitors`, or any Brian2
        monitor of this circuit) recorded in the last run, labelled:
        ``example`` (the example's index among every example this engine
        trained: the run's offset plus its row), ``machine`` (for a monitor
        of units: which machine of the population the unit belongs to),
        ``phase`` and ``window``.  The spiking circuit: ``phase`` ``"wake"``
        or ``"sleep"`` and ``window`` the layer whose firing window holds
        the time (-1 in a settle or learning step), from
        :meth:`hm_neuro.model.Spiking.label_steps`.  The binary circuit
        runs a whole example in one clock step, so ``phase`` is the
        monitor's event (``"wake"``, ``"sleep"``; ``None`` for a
        ``StateMonitor``) and ``window`` the layer's own index."""
        t = np.asarray(monitor.t_[:], dtype=float)
        steps = np.round(t / float(self.net.dt)).astype(np.int64)
        source = monitor.source
        n = len(source) // self.n_machines if hasattr(source, "machine") else None
        units = np.asarray(monitor.i[:]) if hasattr(monitor, "i") else None
        layer = self.net.layers.index(source) if source in self.net.layers else -1
        if isinstance(self.net, SpikingNetwork):
            out = self.options.spiking.label_steps(steps, self.circuit.n_hidden_layers, self.circuit.lateral.in_order())
        else:
            event = getattr(monitor, "event", None)
            phase = event if event in ("wake", "sleep") else None
            out = {
                "example": steps,
                "phase": np.full(steps.shape, phase, dtype=object),
                "window": np.full(steps.shape, layer),
            }
        out["example"] = out["example"] + self.last_offset
        if units is not None and n:
            out["machine"] = units // n
            out["unit"] = units % n
        return out

    def add_monitor(self, name: str, monitor):
        """Add a Brian2 monitor after the engine was made (runtime devices;
        a compiled circuit takes its monitors at construction:
        ``make_engine(..., monitors=...)``)."""
        if self.device == "cpp_standalone":
            raise bad(
                "monitor",
                "a cpp_standalone circuit is compiled when the engine is made; pass "
                "monitors=lambda net: {...} to make_engine",
                name,
            )
        if name in self.net.user_monitors:
            raise bad("monitor", "an engine already has a monitor of this name", name)
        self.net.network.restore("initial")
        self.net.network.add(monitor)
        self.net.user_monitors[name] = monitor
        self.net.network.store("initial")

    def train_chunk(self, params: list, chunk: Chunk):
        """Every machine of the population on its own rows, in one ``run()``.
        With the philox stream every unit draws from its machine's key
        (``chunk.seeds``) and the example's counter, so a machine's samples
        are its own; with mt19937 Brian2 has one random generator for the
        whole circuit, seeded from all the machines' seeds, and a machine's
        samples depend on the population it is trained in."""
        b2, N, m = self.b2, self.n_machines, chunk.rows
        self.last_offset = int(chunk.offset)  # the monitors' examples count from here (phase_labels)
        if len(params) != N:
            raise bad("params", f"needs one entry per machine ({N})", len(params))
        if self.propagation == "event":
            for p in params:
                for k in self.circuit.nonnegative_generative_weights_into:
                    if np.min(p.generative_weights[k]) < 0:
                        raise bad(
                            f"generative_weights_{k}",
                            "event-driven propagation clips only the synapses it "
                            "updates, so weights kept >= 0 must start >= 0 (use propagation='summed')",
                            float(np.min(p.generative_weights[k])),
                        )
        values = dict(self.net.rate_values(chunk.circuits))
        values.update(self.net.parameter_values(params))
        values.update(self.net.perturbation_values(chunk.perturbation))
        values.update(self.net.stream_values(chunk.seeds, chunk.offset))
        values.update(self.net.grid_values())
        values.update(
            self.net.chunk_inputs(
                chunk.data, chunk.wake_gate, chunk.sleep_gate, chunk.uniforms, compiled=self.device == "cpp_standalone"
            )
        )
        seeds = chunk.seeds if self.rng == "mt19937" else [0]  # philox: Brian2's own generator is not used
        seed = int(seeds[0]) if N == 1 else int(np.random.SeedSequence([int(s) for s in seeds]).generate_state(1)[0])
        seed %= 2**32 - 1024
        if self.device == "cpp_standalone":
            b2.device.run_environment_variables[SEED_ENV] = str(seed)
            try:
                # results into the private run folder too (Brian2's default is the build's own folder,
                # which concurrent processes of one shape would share)
                # (Brian2 prints the binary's output when it fails: a stopped binary's is said by the interrupt)
                with contextlib.redirect_stdout(io.StringIO()) as said:
                    b2.device.run(
                        directory=str(self.run_dir), results_directory="results", with_output=False, run_args=values
                    )
            except Exception:
                if not self.stop_requested:
                    sys.stdout.write(said.getvalue())
                raise
            finally:
                os.environ.pop(SEED_ENV, None)  # Brian2 exports it; leave the environment as it was
            if self.stop_requested:  # stopped: the caller raises the interrupt; close() removes the run folder
                return params, [{} for _ in range(N)]
            b2.device.delete(code=False, data=False, run_args=True, directory=False, force=True)
        else:
            interrupts.raise_pending()  # Brian2's run() would forget a stop requested before it starts
            self.net.network.restore("initial")
            namespace = self._namespace({})
            for key, v in values.items():
                if isinstance(key, b2.TimedArray):
                    namespace[key.name] = b2.TimedArray(v, dt=key.dt * b2.second, name=key.name)  # its own dt
                else:
                    key[:] = v
            b2.seed(seed)
            self.net.network.run(m * self.net.example_duration, namespace=namespace)
            if self.stop_requested:
                return params, [{} for _ in range(N)]
        extras = [{} for _ in range(N)]
        if self.net.spike_monitors:
            for e, s in zip(extras, self.net.read_spikes(m)):
                e.update(s)
        if self.net.trace_monitors:
            for e, s in zip(extras, self.net.read_traces(m)):
                e["traces"] = s
        for e in extras:
            if self.net.user_monitors:
                e["monitors"] = self.net.user_monitors
        seen, snaps = self.net.read_history(m, chunk.offset)
        for e, s in zip(extras, snaps):
            e["history_seen"], e["history"] = list(seen), s
        return self.net.read_parameters(), extras

    def check_shape(self, circuit: Circuit):
        """A circuit of the compiled shape: its layers and its constraints."""
        same = (
            circuit.layers == self.circuit.layers
            and circuit.nonnegative_generative_weights_into == self.circuit.nonnegative_generative_weights_into
            and circuit.precision == self.circuit.precision
            and circuit.plasticity == self.circuit.plasticity
            and circuit.lateral.structure() == self.circuit.lateral.structure()
        )
        if not same:
            raise bad(
                "circuit",
                f"this build is for layers {list(self.circuit.layers)} with constraints "
                f"{list(self.circuit.nonnegative_generative_weights_into)} "
                f"and precision {self.circuit.precision.label}"
                + ("" if self.circuit.plasticity.is_default else f" and plasticity {self.circuit.plasticity.name}"),
                circuit.name,
            )

    def retarget(self, circuit: Circuit):
        """Train another circuit of the same compiled shape (e.g. other learning rates)."""
        super().retarget(circuit)
        self.net.circuit = circuit

    def close(self):
        """Forget Brian2's device state and delete this engine's private run folder.

        The Brian2 objects are released too: Brian2 names a code object after
        its owner unless that name is taken by a live object, so a circuit
        built while an old one is alive would generate ``..._1`` sources, and
        a cached build would recompile."""
        if self.device == "cpp_standalone":
            self.b2.device.reinit()
            self.b2.set_device("runtime")
        if self.net is not None:  # an engine closed before any run: its objects were meant, not forgotten
            _mark_used(self.net.network)
        self.net = None
        gc.collect()
        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir = None


def _mark_used(network):
    """Mark a network's objects as run, so Brian2 does not warn of objects
    "never included in a network" when they are released.  A function of its
    own: a loop variable left in :meth:`Brian2Engine.close`'s frame would keep
    an object -- and through it the whole circuit -- alive through the
    collection there, and the next circuit would get ``..._1`` names (and a
    cached build would recompile)."""
    for obj in network.objects:
        if getattr(obj, "_network", "") is None:
            obj._network = network.id
