"""What the binary and the spiking circuits share: a population of machines
of one shape, its pathways, and how parameters, inputs and recordings move
in and out of Brian2."""

from __future__ import annotations

import brian2 as b2
import numpy as np

from ... import philox
from ...errors import bad
from ...model import WAKE_SLEEP, Circuit, Parameters, draw_group, lateral_key, rounding_group, state_name
from .code import STREAM, bias_rule, delta_rule, grid, rounding_draw
from .device import stable_clock


def distinct_rows(rows: np.ndarray):
    """(the distinct rows, sorted by code; each row's index among them) of 0/1
    rows of at most 64 units, each row coded as a 64-bit integer."""
    codes = (rows.astype(np.uint64) << np.arange(rows.shape[1], dtype=np.uint64)).sum(axis=1, dtype=np.uint64)
    if rows.shape[1] <= 20:  # a table of every code: one pass
        seen = np.zeros(1 << rows.shape[1], dtype=np.int64)
        seen[codes] = 1
        uniq = np.flatnonzero(seen).astype(np.uint64)
        position = np.cumsum(seen) - 1
        inverse = position[codes]
    else:
        uniq, inverse = np.unique(codes, return_inverse=True)
    distinct = ((uniq[:, None] >> np.arange(rows.shape[1], dtype=np.uint64)) & np.uint64(1)).astype(float)
    return distinct, inverse


class PopulationNetwork:
    """The Brian2 objects of a population of ``n_machines`` machines of one
    shape, with ``chunk`` examples per run of ``steps_per_example`` clock
    steps of ``dt`` each.

    Layer ``l`` is ONE ``NeuronGroup`` of ``n_machines * n[l]`` units (machine
    ``m`` owns units ``m * n[l]`` to ``(m + 1) * n[l] - 1``; its index is the constant
    ``machine``); recognition and generative ``Synapses`` connect units of
    the same machine only.  Everything a machine owns is a per-unit or
    per-synapse variable -- learning rates, gates (2-D ``TimedArray`` objects
    indexed by machine), lesion masks, clamps, data columns -- so every code
    object does the work of all machines at once.

    Public: ``layers`` (NeuronGroups), ``recognition`` and ``generative``
    (Synapses, index k joins layers k and k+1), ``network``, and the
    recordings ``spike_monitors`` (keyed ``(kind, layer)``),
    ``trace_monitors`` and ``history_monitors``.
    """

    rule = WAKE_SLEEP
    propagation = "summed"

    def __init__(
        self,
        circuit: Circuit,
        chunk: int,
        n_machines: int,
        dt,
        steps_per_example: int,
        clock_name: str,
        data_rows: int = 0,
        rng: str = "philox",
    ):
        self.circuit = circuit
        self.rng = rng
        #: {pathway: 'exact' | 'nearest' | 'stochastic'}: what the generated code depends on
        self.roundings = circuit.precision.roundings()
        self.chunk = int(chunk)
        self.n_machines = N = int(n_machines)
        self.L = len(circuit.layers) - 1
        b2.defaultclock.dt = dt  # a network built earlier in this process may have changed it
        self.dt = b2.defaultclock.dt
        self.clock = stable_clock(self.dt, clock_name)
        self.example_duration = ex = steps_per_example * self.dt
        # the inputs of one chunk, replaced chunk by chunk: one row per example, or (data_rows) a
        # table of the chunk's distinct rows and each example's row in it
        n0 = circuit.layers[0]
        self.data_rows = int(data_rows)
        if self.data_rows:
            # the row indices of several machines packed into one double: B bits each, P machines
            # per number (every value an integer below 2**53, so the unpacking is exact)
            self.index_bits = B = max(1, (self.data_rows - 1).bit_length())
            self.index_pack = P = max(1, 52 // B)
            self.data = b2.TimedArray(np.zeros((self.data_rows, N * n0)), dt=self.dt, name="data_table")
            self.data_index = b2.TimedArray(np.zeros((chunk, -(-N // P))), dt=ex, name="data_index")
            # floor last: Brian2's numpy floor() casts to int32, which a packed number overflows
            row = f"floor((data_index(t, machine // {P}) / 2.0**({B} * (machine % {P}))) % {2**B})"
            self.data_code = f"data_table({row} * dt, i)"  # unit i of this machine's row
        else:
            self.data = b2.TimedArray(np.zeros((chunk, N * n0)), dt=ex, name="data")
            self.data_index = None
            self.data_code = "data(t, i)"
        self.wake_gate = b2.TimedArray(np.ones((chunk, N)), dt=ex, name="wake_gate")
        self.sleep_gate = b2.TimedArray(np.ones((chunk, N)), dt=ex, name="sleep_gate")
        self.timed_arrays = [self.data, self.wake_gate, self.sleep_gate] + ([self.data_index] if self.data_rows else [])
        self.u_wake, self.u_sleep = {}, {}
        self.layers, self.recognition, self.generative = [], [], []
        #: {(pathway, layer): Synapses} of the ordered lateral connections (hm_neuro.model.lateral)
        self.lateral = {}
        self.spike_monitors, self.trace_monitors, self.history_monitors = {}, {}, {}

    def new_layer(self, l: int, model, **kwargs):
        """Layer l's NeuronGroup on the population's clock (with the
        variables of its counter-based stream, :data:`.code.STREAM`, and the
        grids of a finite precision, :func:`.code.grid`)."""
        if self.rng == "philox":
            model = model + b2.Equations(STREAM)
        for prefix, pathway, present in (
            ("b", "biases", True),
            ("gen", "generative", l < self.L),
            ("rec", "recognition", l > 0),
        ):
            if present and self.roundings[pathway] != "exact":
                model = model + grid(prefix)
        n = self.circuit.layers[l]
        g = b2.NeuronGroup(self.n_machines * n, model, name=f"layer_{l}", clock=self.clock, **kwargs)
        g.machine = np.repeat(np.arange(self.n_machines), n)
        if self.rng == "philox":
            g.unit = np.tile(np.arange(n), self.n_machines)
        self.layers.append(g)
        return g

    def add_history_monitors(self, record_every: int):
        """Every weight and bias recorded every ``record_every`` examples
        (a ``StateMonitor`` each, before the example's first operation)."""
        self.history_monitors = {}
        self.record_every = record_every
        if record_every:
            clock = stable_clock(record_every * self.example_duration, "history_clock")
            for name, obj, var in self.parameter_objects():
                m = b2.StateMonitor(obj, var, record=True, clock=clock, when="before_start", name=f"history_{name}")
                self.history_monitors[name] = m
                self.network.add(m)

    def connect_pathways(self, recognition_args, generative_args) -> list:
        """The recognition ``Synapses`` (layer k up to k + 1) and generative
        ones (k + 1 down to k) of every pair of layers, each machine's units
        connected all-to-all within the machine; ``*_args(k)`` gives the
        ``Synapses`` arguments of set k."""
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
        for name, sets in (("generative_weights", self.generative), ("recognition_weights", self.recognition)):
            for h in self.circuit.plasticity.state:  # a declared synapse state (hm_neuro.model.plasticity)
                out += [(f"{name}_{k}.{h}", sets[k], state_name(h)) for k in range(self.L)]
        out += [(lateral_key(*key), S, "w") for key, S in self.lateral.items()]
        return out

    def connect_lateral(self, args) -> list:
        """The ``Synapses`` of every layer's lateral connections in a pathway,
        from the layer to itself, each machine's units connected as the
        circuit's mask says (machine-major, then pre-major); ``args(pathway,
        l)``: their arguments.  Sets every unit's ``rank`` in the order."""
        N = self.n_machines
        self.lateral = {}
        for (pathway, l), spec in self.circuit.lateral.layers.items():
            g, n = self.layers[l], self.circuit.layers[l]
            pre, post = np.nonzero(spec.mask)
            S = b2.Synapses(g, g, name=f"lateral_{pathway}_{l}", clock=self.clock, **args(pathway, l))
            machines = np.repeat(np.arange(N), len(pre))
            S.connect(i=machines * n + np.tile(pre, N), j=machines * n + np.tile(post, N))
            rank = np.empty(n, dtype=int)
            rank[list(spec.order)] = np.arange(n)
            setattr(g, f"rank_{pathway[:3]}", np.tile(rank, N))
            self.lateral[(pathway, l)] = S
        return list(self.lateral.values())

    def _dense(self, name: str, flat):
        """A lateral set's weights as the model file holds them (n x n, zero
        off the connections, flattened on the last axis), from its synapses'
        values (last axis); other sets as they are."""
        for key, spec in self.circuit.lateral.layers.items():
            if lateral_key(*key) == name:
                flat = np.asarray(flat, dtype=float)
                out = np.zeros(flat.shape[:-1] + (spec.mask.size,))
                out[..., np.flatnonzero(spec.mask)] = flat
                return out
        return flat

    def _sparse(self, name: str, a):
        """The inverse of :meth:`_dense`: the values on the connections, pre-major."""
        for key, spec in self.circuit.lateral.layers.items():
            if lateral_key(*key) == name:
                return np.asarray(a, dtype=float).ravel()[np.flatnonzero(spec.mask)]
        return np.asarray(a, dtype=float).ravel()

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
        for pathway, l in self.lateral:
            rates = np.repeat([c.lateral.of(pathway, l).learning_rate for c in circuits], n[l])
            vals[getattr(self.layers[l], f"eps_lat_{pathway[:3]}")] = rates
        return vals

    def stream_values(self, keys, offset: int) -> dict:
        """{VariableView: array} of every unit's stream: its machine's key
        (``keys``, one 64-bit key per machine) and the examples before the
        chunk (``offset``), the stream's step at its start."""
        if self.rng != "philox":
            return {}
        halves = np.array([philox.split_key(k) for k in keys], dtype=np.int32)  # (machines, 2)
        vals = {}
        for l, g in enumerate(self.layers):
            n = self.circuit.layers[l]
            vals[g.key_lo] = np.repeat(halves[:, 0], n)
            vals[g.key_hi] = np.repeat(halves[:, 1], n)
            vals[g.step_offset] = np.full(self.n_machines * n, float(offset))
        return vals

    # ------------------------------------------------------------ finite precision

    def example_step(self, pre: str = "") -> str:
        """The stream's step (the example) as code; ``pre='_pre'`` in a synapse."""
        return f"step_offset{pre} + t_in_timesteps"

    def weight_rule(self, kind: str, k: int, dw: str, purpose: int) -> str:
        """The delta rule ``w += dw`` of generative or recognition set k, on its
        grid if it has one (the stochastic rounding's draw: counter unit = the
        synapse's index in its set, pre-major as :meth:`pairs` connects)."""
        n_post = self.circuit.layers[k if kind == "generative" else k + 1]
        name = f"{kind}_weights"
        draw = rounding_draw(
            rounding_group(name, k), purpose, self.example_step("_pre"), f"unit_pre * {n_post} + unit_post", "_pre"
        )
        prefix = "gen" if kind == "generative" else "rec"
        return delta_rule(dw, kind == "generative" and self.circuit.nonnegative(k), self.roundings[kind], prefix, draw)

    def declared_draw(self, kind: str, k: int, purpose: int):
        """``draw(c)``: the arguments after x of ``stochastic_floor`` for call
        c of a declared rule's stochastic rounding on generative or
        recognition set k (:func:`hm_neuro.model.draw_group`; the counter's
        unit is the synapse's index in its set, pre-major)."""
        n_post = self.circuit.layers[k if kind == "generative" else k + 1]
        unit = f"unit_pre * {n_post} + unit_post"
        return lambda c: rounding_draw(
            draw_group(f"{kind}_weights", k, c), purpose, self.example_step("_pre"), unit, "_pre"
        )

    def bias_rule(self, var: str, parameter_set: str, k: int, db: str, purpose: int) -> str:
        """The delta rule ``var += db`` of a bias, on the biases' grid if it has one."""
        draw = rounding_draw(rounding_group(parameter_set, k), purpose, self.example_step())
        return bias_rule(var, db, self.roundings["biases"], draw)

    def grid_values(self) -> dict:
        """{VariableView: per-unit array} of every grid (the population's precision)."""
        precision, vals = self.circuit.precision, {}
        if precision.exact:
            return vals
        for l, g in enumerate(self.layers):
            sets = [("b", precision.biases, False)]
            if l < self.L:  # the generative weights into layer l: set l
                sets.append(("gen", precision.grid("generative_weights", l), self.circuit.nonnegative(l)))
            if l > 0:  # the recognition weights into layer l: set l - 1
                sets.append(("rec", precision.grid("recognition_weights", l - 1), False))
            for prefix, grid_, nonnegative in sets:
                if grid_ is None:
                    continue
                lo, hi = grid_.bounds(nonnegative)
                size = len(g)
                for name, v in (("step", grid_.step), ("inv_step", 1.0 / grid_.step), ("lo", lo), ("hi", hi)):
                    vals[getattr(g, f"{prefix}_{name}")] = np.full(size, v)
        return vals

    def perturbation_values(self, perturbations):
        """{VariableView: array} of every lesion mask and clamp, one perturbation per machine."""
        n = self.circuit.layers
        vals = {}
        for k in range(self.L):
            for kind, S in (("generative", self.generative[k]), ("recognition", self.recognition[k])):
                size = n[k] * n[k + 1]
                vals[S.mask] = np.concatenate(
                    [
                        np.ones(size) if isinstance(m, float) else np.asarray(m, dtype=float).ravel()
                        for m in (pt.mask(kind, k) for pt in perturbations)
                    ]
                )
        for l, g in enumerate(self.layers):
            vals[g.clamped] = np.concatenate([np.full(n[l], 1.0 if l in pt.clamps else 0.0) for pt in perturbations])
            vals[g.clamp_state] = np.concatenate(
                [np.asarray(pt.clamps[l], dtype=float) if l in pt.clamps else np.zeros(n[l]) for pt in perturbations]
            )
        return vals

    def parameter_values(self, params_list):
        """{VariableView: flat array} setting every weight and bias of every machine."""
        per_machine = [p.arrays() for p in params_list]
        return {
            getattr(obj, var): np.concatenate([self._sparse(name, a[name]) for a in per_machine])
            for name, obj, var in self.parameter_objects()
        }  # weights (pre, post): pre-major, as connected

    def read_parameters(self) -> list:
        """Every machine's weights and biases (one Parameters per machine)."""
        N = self.n_machines
        flat = {
            name: np.array(getattr(obj, var)[:], dtype=float).reshape(N, -1)
            for name, obj, var in self.parameter_objects()
        }
        return [
            Parameters.from_arrays({k: self._dense(k, v[m]) for k, v in flat.items()}, self.circuit) for m in range(N)
        ]

    def data_values(self, data, padded) -> dict:
        """The chunk's data: every example's row, or the table of each
        machine's distinct rows (in the table's columns of that machine) and
        each example's index in it."""
        if not self.data_rows:
            return {self.data: padded(np.concatenate([np.asarray(d, dtype=float) for d in data], axis=1))}
        n0 = self.circuit.layers[0]
        table = np.zeros((self.data_rows, self.n_machines * n0))
        index = np.zeros((len(data[0]), -(-self.n_machines // self.index_pack)), dtype=np.int64)
        for k, rows in enumerate(data):
            distinct, inverse = distinct_rows(np.asarray(rows, dtype=float))
            if len(distinct) > self.data_rows:
                raise bad(
                    "data",
                    f"a chunk of machine {k} holds {len(distinct)} distinct rows; this circuit's table "
                    f"holds {self.data_rows} (EngineOptions.data_rows)",
                    len(distinct),
                )
            table[: len(distinct), k * n0 : (k + 1) * n0] = distinct
            index[:, k // self.index_pack] += inverse.astype(np.int64) << (self.index_bits * (k % self.index_pack))
        return {self.data: table, self.data_index: padded(index.astype(float))}

    def chunk_inputs(self, data, wake_gate, sleep_gate, uniforms, compiled: bool = False):
        """{TimedArray: values} for one chunk, padded to the chunk length.

        Per machine: ``data[m]`` (rows, n0), gates ``(rows,)`` or None,
        ``uniforms[m]`` or None.  ``compiled``: a gate that is 1 throughout
        a full chunk is left out (the binary's own values are ones), so no
        file is written for it."""
        m = len(data[0])
        pad = self.chunk - m

        def padded(a):
            a = np.asarray(a, dtype=float)
            return np.concatenate([a, np.zeros((pad,) + a.shape[1:])]) if pad else a

        def gates(g):
            return np.stack([np.ones(m) if x is None else np.asarray(x, dtype=float) for x in g], axis=1)

        vals = self.data_values(data, padded)
        for ta, g in ((self.wake_gate, wake_gate), (self.sleep_gate, sleep_gate)):
            if ta is self.sleep_gate and not self.rule.sleep_update:
                continue  # no code reads it
            # padding rows must not learn: a gate is left out only when the chunk fills the build
            if not (compiled and pad == 0 and all(x is None or np.all(np.asarray(x) == 1) for x in g)):
                vals[ta] = padded(gates(g))
        if self.u_wake:
            if uniforms is None or any(u is None for u in uniforms):
                raise bad("uniforms", "this circuit was built for external uniform numbers; pass them")
            # (rows, units) or, with K samples / S fantasies, (rows, copies, units) per machine
            for l, ta in self.u_wake.items():
                vals[ta] = padded(np.concatenate([np.reshape(u.wake[l - 1], (m, -1)) for u in uniforms], axis=1))
            for l, ta in self.u_sleep.items():
                vals[ta] = padded(np.concatenate([np.reshape(u.sleep[l], (m, -1)) for u in uniforms], axis=1))
        return vals

    def read_history(self, m: int, offset: int):
        """Snapshots recorded in this chunk: (examples_seen, per machine {name: array})."""
        if not self.history_monitors:
            return [], [{} for _ in range(self.n_machines)]
        any_mon = next(iter(self.history_monitors.values()))
        steps = np.round(np.asarray(any_mon.t_[:]) / float(self.example_duration)).astype(int)
        # counted from the chunk's start: only the multiples of record_every of the whole run are the history's
        keep = (steps < m) & ((offset + steps) % self.record_every == 0)
        seen = (offset + steps[keep]).tolist()
        snaps = [{} for _ in range(self.n_machines)]
        for name, _, var in self.parameter_objects():
            vals = np.asarray(getattr(self.history_monitors[name], var))[:, keep].T  # (n_times, N * size)
            for k, part in enumerate(np.split(vals, self.n_machines, axis=1)):
                snaps[k][name] = self._dense(name, part.copy())
        return seen, snaps

    def assemble(self, objects: list, record_every: int, monitors=None):
        """The ``Network`` of ``objects`` and of every recording: the spike and
        trace monitors made so far, the weight history every
        ``record_every`` examples, and the user's ``monitors(self) -> {name:
        monitor}`` (:class:`hm_neuro.engines.EngineOptions`)."""
        self.network = b2.Network(objects + list(self.spike_monitors.values()) + list(self.trace_monitors.values()))
        self.add_history_monitors(record_every)
        self.user_monitors = {}
        if monitors is not None:
            made = monitors(self)
            if not isinstance(made, dict) or not all(isinstance(m, b2.BrianObject) for m in made.values()):
                raise bad("monitors", "must return a dict {name: Brian2 monitor}", type(made).__name__)
            for m in made.values():
                self.network.add(m)
            self.user_monitors = dict(made)
