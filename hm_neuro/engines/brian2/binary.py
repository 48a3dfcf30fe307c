"""The binary circuit: one Brian2 time step is one training example.

Every layer is a ``NeuronGroup`` of binary stochastic units
(:func:`hm_neuro.engines.brian2.code.binary_layer`); every pair of adjacent
layers is joined by two separate ``Synapses``: a bottom-up *recognition* set
and a top-down *generative* set.  The *phase controller* (:class:`Phases`)
places all operations of one example in the ``start`` slot of the step and
orders them: wake (eq. 1 bottom-up), wake learning (eq. 4), sleep (the
fantasy, eq. 1 top-down), sleep learning (eq. 7) -- the table in
:mod:`hm_neuro.engines.brian2`.
"""

from __future__ import annotations

import brian2 as b2
import numpy as np

from ... import philox
from ...errors import bad
from ...model import Circuit, Rule, state_name
from .code import (
    SUMMED_INPUT,
    SYNAPSE,
    binary_layer,
    copies_sum,
    factors,
    lateral_variables,
    log_sigmoid,
    sampled,
    sigmoid,
    stream_uniform,
    suffix,
)
from .population import PopulationNetwork

#: event-driven propagation pays off from this many synapses per example
#: (benchmarks/bench.py: at 16-8-1 and 64-16-16-4 the extra event detectors
#: cost more than they save; at 784-200-200 events are several times faster)
EVENT_DRIVEN_FROM_SYNAPSES = 20_000


def choose_propagation(circuit: Circuit) -> str:
    """'event' for large circuits, 'summed' for small ones (see the benchmark)."""
    n = circuit.layers
    synapses = sum(n[k] * n[k + 1] for k in range(len(n) - 1))
    return "event" if synapses >= EVENT_DRIVEN_FROM_SYNAPSES else "summed"


class Phases:
    """The phase controller's slot: every operation of an example in the
    ``start`` slot of its step, in the order it is added."""

    def __init__(self):
        self.order = 0

    def next(self) -> int:
        self.order += 1
        return self.order - 1

    def op(self, obj, code: str, name: str):
        """Code run once per example by ``obj`` (a layer or a synapse set)."""
        obj.run_regularly(code, when="start", order=self.next(), name=f"{obj.name}_{name}")

    def place(self, obj):
        """An existing Brian2 object (a summed updater, a pathway, a thresholder) next."""
        obj.when, obj.order = "start", self.next()


class BinaryNetwork(PopulationNetwork):
    """The binary circuit of a population (:class:`PopulationNetwork`).

    ``propagation``: ``summed`` (inputs are summed variables over every
    synapse; learning one pass over every synapse) or ``event`` (a unit that
    is on emits a ``wake`` or ``sleep`` event and ``on_pre`` code adds its
    weights to its targets' inputs and applies the delta rule, so only the
    synapses of active presynaptic units are touched).  A unit that is on in
    the wake phase emits a ``wake`` event, one on in the fantasy a ``sleep``
    event, so ``EventMonitor(layer, 'wake')`` records perception rasters.
    ``rule``: K recognition samples and S fantasies are K and S copies of
    each unit's state (:func:`hm_neuro.engines.brian2.code.binary_layer`);
    reweighted rules add one importance neuron per machine.
    """

    def __init__(self, circuit: Circuit, chunk: int, n_machines: int, options):
        """``options`` (:class:`hm_neuro.engines.EngineOptions`, its
        propagation resolved): the rule, the propagation, pre-drawn uniforms
        (``external_uniforms``), recordings (``record_spikes``,
        ``record_every``, ``monitors``), the data table (``data_rows``) and
        the generator (``rng``)."""
        propagation, rule, rng = options.propagation, options.rule, options.rng
        external_uniforms, record_spikes = options.external_uniforms, options.record_spikes
        if propagation not in ("summed", "event"):
            raise bad("propagation", "must be 'summed' or 'event'", propagation)
        self.rule = rule = Rule.parse(rule or "wake-sleep")
        #: a rule that runs per synapse (with state, or not ``s_pre * F(post)``); the others -- the papers'
        #: delta rule among them -- as a factor per unit that the synapses multiply by their presynaptic state
        self.declared = circuit.plasticity.post_factor is None
        if not rule.is_default and propagation != "summed":
            raise bad("propagation", f"the {rule.label} rule needs summed propagation", propagation)
        if circuit.lateral and propagation != "summed":
            raise bad("propagation", "lateral connections fire in order with summed propagation", propagation)
        super().__init__(circuit, chunk, n_machines, 0.1 * b2.ms, 1, "example_clock", options.data_rows, rng)
        self.propagation = propagation
        self.event = event = propagation == "event"
        self.K, self.S = K, S = rule.samples, rule.fantasies
        self.weighted = rule.samples > 1 or rule.wake_update
        N, n, L = self.n_machines, circuit.layers, self.L
        if external_uniforms:
            for l in range(L + 1):
                self.u_sleep[l] = b2.TimedArray(np.zeros((chunk, N * S * n[l])), dt=self.dt, name=f"u_sleep_{l}")
                if l > 0:
                    self.u_wake[l] = b2.TimedArray(np.zeros((chunk, N * K * n[l])), dt=self.dt, name=f"u_wake_{l}")
            self.timed_arrays += list(self.u_wake.values()) + list(self.u_sleep.values())
        events = {"wake": "s_wake > 0.5", "sleep": "s_sleep > 0.5"} if (record_spikes or event) else None
        for l in range(L + 1):
            model = binary_layer(
                below=l > 0, above=l < L, samples=K, fantasies=S, wake_update=rule.wake_update, weighted=self.weighted
            )
            for pathway in ("generative", "recognition"):
                if circuit.lateral.of(pathway, l) is not None:
                    model += lateral_variables(pathway[:3], max(K, S))
            g = self.new_layer(l, model, events=events)
            g.state_updater.active = False
        objects = list(self.layers)
        if self.weighted:
            objects += self._importance_population()
        objects += self.connect_pathways(
            lambda k: self._synapse_args("recognition", k), lambda k: self._synapse_args("generative", k)
        )
        objects += self.connect_lateral(self._lateral_args)
        phases = Phases()
        self.wake(phases)
        self.wake_learning(phases)
        self.sleep(phases)
        if rule.sleep_update:
            self.sleep_learning(phases)
        if record_spikes:
            for l, g in enumerate(self.layers):
                for phase in ("wake", "sleep"):
                    self.spike_monitors[(phase, l)] = b2.EventMonitor(g, phase, record=True, name=f"{phase}_raster_{l}")
        self.assemble(objects, options.record_every, options.monitors)

    # ------------------------------------------------------------ the model

    def uniform(self, phase: str, l: int, c: int = 0) -> str:
        """The uniform number of copy c of unit i: its counter-based stream
        (group ``l + 256 c``, :mod:`hm_neuro.philox`), ``rand()`` (mt19937), or
        a column of the external uniforms (machine-major, then copy, then unit)."""
        table = self.u_wake if phase == "wake" else self.u_sleep
        copies = self.K if phase == "wake" else self.S
        if not table:
            if self.rng == "philox":
                return stream_uniform(l + 256 * c, philox.WAKE if phase == "wake" else philox.SLEEP)
            return "rand()"
        if copies == 1:
            return f"u_{phase}_{l}(t, i)"
        n = self.circuit.layers[l]
        return f"u_{phase}_{l}(t, i + machine * {(copies - 1) * n} + {c * n})"

    def learning_code(self, kind: str, k: int, presynaptic: bool = True) -> str:
        """The delta rule of weight set k (eq. 4 generative, eq. 7 recognition,
        ``recognition_wake``: the reweighted rules' wake-phase Q update): the
        postsynaptic factor ``err`` (eps * gate * (s - p), times omega when
        reweighted) is computed once per unit, so a synapse multiplies it by
        its presynaptic state -- which, ``presynaptic=False``, is the event
        itself (event-driven propagation)."""
        state, err, copies = {
            "generative": ("s_wake", "err_gen", self.K),
            "recognition": ("s_sleep", "err_rec", self.S),
            "recognition_wake": ("s_wake", "err_rec_wake", self.K),
        }[kind]
        pre = f"{state}{{c}}_pre * " if presynaptic else ""
        dw = "mask * " + copies_sum(pre + err + "{c}_post", copies)
        if self.declared:  # a per-synapse rule: err holds eps * gate (module hm_neuro.model.plasticity)
            names = {"s_pre": f"{state}_pre", "s_post": f"{state}_post", "w": "w"}
            names["p_post"] = "p_post" if kind == "generative" else "q_post"
            rule, pathway = self.circuit.plasticity, "generative" if kind == "generative" else "recognition"
            purpose = philox.ROUND_SLEEP if kind == "recognition" else philox.ROUND_WAKE
            where = (f"{pathway}_weights", k, self.declared_draw(pathway, k, purpose))
            dw = f"mask * {err}_post * " + rule.code("weight", names, *where)
            if rule.stateful:  # the synapse's state moves, its weight is expressed
                return rule.state_code(dw, names, kind == "generative" and self.circuit.nonnegative(k), *where)
        purpose = philox.ROUND_SLEEP if kind == "recognition" else philox.ROUND_WAKE
        return self.weight_rule("generative" if kind == "generative" else "recognition", k, dw, purpose)

    def _synapse_args(self, kind: str, k: int) -> dict:
        """Synapses arguments of recognition or generative set k."""
        pathway = "rec" if kind == "recognition" else "gen"
        model = SYNAPSE + "".join(f"{state_name(h)} : 1  # synaptic state\n" for h in self.circuit.plasticity.state)
        if not self.event:  # the generative synapses carry the fantasy down in their learning pass (sleep)
            inputs = [
                SUMMED_INPUT.format(x=f"x_{pathway}_wake{suffix(c)}", s=f"s_wake{suffix(c)}") for c in range(self.K)
            ]
            if kind == "recognition":
                inputs += [
                    SUMMED_INPUT.format(x=f"x_rec_sleep{suffix(c)}", s=f"s_sleep{suffix(c)}") for c in range(self.S)
                ]
            return {"model": model + "\n".join(inputs)}
        on_pre = {
            "wake_input": f"x_{pathway}_wake_post += mask * w",
            "sleep_input": f"x_{pathway}_sleep_post += mask * w",
            "learn": self.learning_code(kind, k, presynaptic=False),
        }
        on_event = {"wake_input": "wake", "sleep_input": "sleep", "learn": "sleep" if kind == "recognition" else "wake"}
        return {"model": model, "on_pre": on_pre, "on_event": on_event, "delay": {key: 0 * b2.second for key in on_pre}}

    def _lateral_args(self, pathway: str, l: int) -> dict:
        """A layer's lateral synapses: the weight, and the lateral input of
        each copy of the layer's whole sample (wake for generative ones, the
        fantasy for recognition ones) that the delta rule's prediction
        includes."""
        p, state, copies = ("gen", "s_wake", self.K) if pathway == "generative" else ("rec", "s_sleep", self.S)
        inputs = "".join(f"\nxlat_{p}{suffix(c)}_post = w * {state}{suffix(c)}_pre : 1 (summed)" for c in range(copies))
        return {"model": "w : 1  # lateral weight" + inputs}

    def _fire_in_order(self, phases: Phases, l: int, pathway: str, state: str, bases: list, uniforms: list, reset=""):
        """Layer l fires in its lateral order (:func:`hm_neuro.model.lateral.sample_in_order`),
        each copy c of its state (a sample of the rules' K, a fantasy of their
        S) from ``bases[c]`` with the uniform numbers ``uniforms[c]``: every
        unit's running logit starts at its base; the unit of rank r fires
        when it is above its uniform number's logit (a clamped unit takes its
        clamp), and then adds its lateral weights to the logits of the units
        after it (one op of the layer and one of its lateral synapses per
        rank).  Then every unit's running logit is its own (the units after it
        do not reach it) and its probability, ``p`` or ``q``, is set as a
        factorial layer sets it (and, reweighted, its share ``lq`` of ln Q)."""
        p, g, S = pathway[:3], self.layers[l], self.lateral[(pathway, l)]
        copies = range(len(bases))
        start = [
            f"xl_{p}{x} = {base}\nu_lateral = {u}\nthr_{p}{x} = log(u_lateral) - log1p(-u_lateral)\n{state}{x} = 0"
            for x, base, u in zip(map(suffix, copies), bases, uniforms)
        ]
        phases.op(g, "\n".join(start) + reset, f"{pathway}_order_start")
        n = self.circuit.layers[l]
        for r in range(n):
            fire = "(clamped * clamp_state + (1 - clamped) * int(xl_{p}{x} > thr_{p}{x}))"
            code = [
                f"{state}{x} = {state}{x} + int(rank_{p} == {r}) * " + fire.format(p=p, x=x)
                for x in map(suffix, copies)
            ]
            phases.op(g, "\n".join(code), f"{pathway}_fire_{r}")
            if r < n - 1:
                code = [f"xl_{p}{x}_post += w * {state}{x}_pre * int(rank_{p}_pre == {r})" for x in map(suffix, copies)]
                phases.op(S, "\n".join(code), f"fired_{r}")
        prediction = "p" if pathway == "generative" else "q"  # each unit's probability (monitors, the rules)
        end = [f"{prediction}{x} = {sigmoid(f'xl_{p}{x}')}" for x in map(suffix, copies)]
        if self.weighted and pathway == "recognition":
            end += [f"lq{x} = {log_sigmoid(f'(2 * {state}{x} - 1) * xl_{p}{x}')}" for x in map(suffix, copies)]
        phases.op(g, "\n".join(end), f"{pathway}_order_end")

    def _importance_population(self):
        """The divisive normalisation population of reweighted wake-sleep: one
        neuron per machine sums its units' shares of ``ln P(h_c, d) - ln Q(h_c
        | d)`` for every copy c (one summed variable per layer), and
        normalises them (``omega_c = softmax_c``); every unit reads its
        machine's weights through linked variables (and copies them into its
        own, which its synapses can read)."""
        N, n, L, K = self.n_machines, self.circuit.layers, self.L, self.K
        eqs = ["lw_max : 1", "lw_total : 1"]
        for c in range(K):
            eqs += [f"lw{suffix(c)} : 1  # ln P(h, d) - ln Q(h | d) of copy {c}", f"omega{suffix(c)} : 1  # its weight"]
            eqs += [f"lw{suffix(c)}_layer_{l} : 1" for l in range(L + 1)]
        imp = b2.NeuronGroup(N, "\n".join(eqs), name="importance", clock=self.clock)
        imp.state_updater.active = False
        self.importance = imp
        self.collect = []
        for l, g in enumerate(self.layers):
            S = b2.Synapses(
                g,
                imp,
                "\n".join(f"lw{suffix(c)}_layer_{l}_post = lp{suffix(c)}_pre : 1 (summed)" for c in range(K)),
                name=f"importance_from_{l}",
                clock=self.clock,
            )
            S.connect(i=np.arange(N * n[l]), j=np.repeat(np.arange(N), n[l]))
            self.collect.append(S)
            for c in range(K):
                setattr(
                    g,
                    f"omega_of_machine{suffix(c)}",
                    b2.linked_var(imp, f"omega{suffix(c)}", index=np.repeat(np.arange(N), n[l])),
                )
        return [imp] + self.collect

    # ------------------------------------------------------------ the phase controller
    # With summed propagation an input is a summed variable, recomputed when
    # needed; with event-driven propagation the units that are on emit an
    # event right after they are sampled, the synapses of those units add to
    # the targets' inputs, and the layer that reads an input resets it to 0.

    def _emit(self, phases: Phases, layer, phase: str):
        """event-driven: the units of ``layer`` that are on in ``phase`` emit."""
        if self.event:
            phases.place(layer.thresholder[phase])

    def _propagate(self, phases: Phases, S, var: str, phase: str):
        """S's input ``var`` to its targets, from the ``phase`` sample of its sources."""
        if self.event:
            phases.place(next(p for p in S._pathways if p.name == f"{S.name}_{phase}_input"))
        else:
            phases.place(S.summed_updaters[f"{var}_post"])

    def _consumed(self, var: str) -> str:
        return f"\n{var} = 0" if self.event else ""

    def wake(self, phases: Phases):
        """Clamp the data vector, then recognise bottom-up (eq. 1): K samples."""
        lay, R, K = self.layers, self.recognition, self.K
        phases.op(
            lay[0], f"s_wake = {self.data_code}" + "".join(f"\ns_wake_{c} = s_wake" for c in range(1, K)), "clamp"
        )
        self._emit(phases, lay[0], "wake")
        for k in range(self.L):
            for c in range(K):
                self._propagate(phases, R[k], f"x_rec_wake{suffix(c)}", "wake")
            if self.circuit.lateral.of("recognition", k + 1) is not None:  # fired in order
                bases = [f"b_rec + x_rec_wake{suffix(c)}" for c in range(K)]
                uniforms = [self.uniform("wake", k + 1, c) for c in range(K)]
                self._fire_in_order(phases, k + 1, "recognition", "s_wake", bases, uniforms)
                continue
            code = []
            for c in range(K):
                s, drive = f"s_wake{suffix(c)}", f"b_rec + x_rec_wake{suffix(c)}"
                code += [
                    f"q{suffix(c)} = {sigmoid(drive)}",
                    f"{s} = {sampled(self.uniform('wake', k + 1, c), f'q{suffix(c)}')}",
                ]
                if self.weighted:
                    code.append(f"lq{suffix(c)} = {log_sigmoid(f'(2 * {s} - 1) * ({drive})')}")
            phases.op(lay[k + 1], "\n".join(code) + self._consumed("x_rec_wake"), "recognise")
            self._emit(phases, lay[k + 1], "wake")

    def _wake_bias_update(self, l: int) -> str:
        """Eq. 4 on the generative bias of layer l and the unit's factor of it
        for the synapses; reweighted: each sample weighed by omega, and the
        wake-phase Q update of the recognition bias."""
        K, w = self.K, "omega{c}" if self.weighted else None
        gate = "wake_gate(t, machine)"
        if self.declared:  # a per-synapse rule (hm_neuro.model.plasticity); the synapses read eps * gate
            names = {"s": "s_wake", "p": "p", "b": "b_gen"}
            db = f"eps_b_gen * {gate} * " + self.circuit.plasticity.code("bias", names)
            code = self.bias_rule("b_gen", "generative_biases", l, db, philox.ROUND_WAKE)
            return code + (f"\nerr_gen = eps_gen * {gate}" if l < self.L else "")
        db = f"eps_b_gen * {gate} * " + copies_sum(self._rule("bias", "s_wake", "p", "b_gen"), K, w)
        code = self.bias_rule("b_gen", "generative_biases", l, db, philox.ROUND_WAKE)
        weight = "omega" if w else None
        factor = self._rule("factor", "s_wake", "p", "generative_weights", l)
        if self.circuit.lateral.of("generative", l) is not None:
            code += factors("err_lat_gen", f"eps_lat_gen * {gate}", factor, K, weight)
        if l < self.L:
            code += factors("err_gen", f"eps_gen * {gate}", factor, K, weight)
        if l > 0 and self.rule.wake_update:
            db = f"eps_b_rec * {gate} * " + copies_sum(self._rule("bias", "s_wake", "q", "b_rec"), K, "omega{c}")
            code += "\n" + self.bias_rule("b_rec", "recognition_biases", l - 1, db, philox.ROUND_WAKE)
            factor = self._rule("factor", "s_wake", "q", "recognition_weights", l - 1)
            code += factors("err_rec_wake", f"eps_rec * {gate}", factor, K, "omega")
            if self.circuit.lateral.of("recognition", l) is not None:
                code += factors("err_lat_rec", f"eps_lat_rec * {gate}", factor, K, "omega")
        return code

    def _rule(self, which: str, state: str, prediction: str, target: str, k: int = 0) -> str:
        """The circuit's rule (:mod:`hm_neuro.model.plasticity`) as a unit's
        code for every copy ``{c}`` of its state: its ``bias`` update of
        ``target`` (the bias variable), or (``factor``) its weight set k's
        :attr:`~hm_neuro.model.Plasticity.post_factor` -- for the papers' rule
        both ``(s - p)``, eqs. 4 and 7."""
        rule = self.circuit.plasticity
        if which == "bias":
            return rule.code("bias", {"s": state + "{c}", "p": prediction + "{c}", "b": target})
        return rule.code("factor", {"s_post": state + "{c}", "p_post": prediction + "{c}"}, target, k)

    def _sleep_bias_update(self, k: int) -> str:
        """Eq. 7 on the recognition bias of layer k+1 and the unit's factor of
        it for the synapses (the declared rule: eps * gate, its synapses
        evaluate the rest)."""
        gate = "sleep_gate(t, machine)"
        if self.declared:
            db = f"eps_b_rec * {gate} * " + self.circuit.plasticity.code(
                "bias", {"s": "s_sleep", "p": "q", "b": "b_rec"}
            )
            return (
                self.bias_rule("b_rec", "recognition_biases", k, db, philox.ROUND_SLEEP)
                + f"\nerr_rec = eps_rec * {gate}"
            )
        db = f"eps_b_rec * {gate} * " + copies_sum(self._rule("bias", "s_sleep", "q", "b_rec"), self.S)
        lateral = self.circuit.lateral.of("recognition", k + 1) is not None
        factor = self._rule("factor", "s_sleep", "q", "recognition_weights", k)
        return (
            self.bias_rule("b_rec", "recognition_biases", k, db, philox.ROUND_SLEEP)
            + factors("err_rec", f"eps_rec * {gate}", factor, self.S)
            + (factors("err_lat_rec", f"eps_lat_rec * {gate}", factor, self.S) if lateral else "")
        )

    def wake_learning(self, phases: Phases):
        """Generative predictions of the wake sample and the delta rule (eq. 4);
        reweighted: the importance weights normalised first (eqs. 2-3)."""
        lay, G, R, L, K = self.layers, self.generative, self.recognition, self.L, self.K
        for k in range(L):
            for c in range(K):
                self._propagate(phases, G[k], f"x_gen_wake{suffix(c)}", "wake")
        for l in range(L + 1):
            code = []
            lateral = self.lateral.get(("generative", l))
            if lateral is not None:  # the lateral input of each wake sample, into its prediction
                for c in range(K):
                    phases.place(lateral.summed_updaters[f"xlat_gen{suffix(c)}_post"])
            for c in range(K):
                drive = "b_gen" if l == L else f"b_gen + x_gen_wake{suffix(c)}"
                drive += f" + xlat_gen{suffix(c)}" if lateral is not None else ""
                code.append(f"p{suffix(c)} = {sigmoid(drive)}")
                if self.weighted:
                    share = log_sigmoid(f"(2 * s_wake{suffix(c)} - 1) * ({drive})")
                    code.append(f"lp{suffix(c)} = {share}" + (f" - lq{suffix(c)}" if l > 0 else ""))
            if self.weighted:  # predictions first; the biases learn once the weights are normalised
                phases.op(lay[l], "\n".join(code), "wake_predict")
            else:
                phases.op(
                    lay[l],
                    "\n".join(code)
                    + "\n"
                    + self._wake_bias_update(l)
                    + (self._consumed("x_gen_wake") if l < L else ""),
                    "wake_bias",
                )
        if self.weighted:
            self._normalise(phases)
            for l in range(L + 1):
                phases.op(
                    lay[l],
                    "".join(f"omega{suffix(c)} = omega_of_machine{suffix(c)}\n" for c in range(K))
                    + self._wake_bias_update(l),
                    "wake_bias",
                )
        for k in range(L):
            if self.event:  # summed: in the pass that carries the fantasy down (sleep)
                phases.place(next(p for p in G[k]._pathways if p.name == f"{G[k].name}_learn"))
            if self.rule.wake_update:
                phases.op(R[k], self.learning_code("recognition_wake", k), "wake")
        for (pathway, _), S in self.lateral.items():  # eq. 4 on the generative lateral weights (the Q update)
            if pathway == "generative" or self.rule.wake_update:
                p = pathway[:3]
                phases.op(S, "w += " + copies_sum(f"err_lat_{p}{{c}}_post * s_wake{{c}}_pre", K), "wake_learn")

    def _normalise(self, phases: Phases):
        """omega_c = softmax_c(lw_c) per machine, lw_c summed over its units."""
        K = self.K
        for S in self.collect:
            for upd in S.summed_updaters.values():
                phases.place(upd)
        total = [
            f"lw{suffix(c)} = " + " + ".join(f"lw{suffix(c)}_layer_{l}" for l in range(self.L + 1)) for c in range(K)
        ]
        peak = ["lw_max = lw"] + [
            f"lw_max = lw_{c} * int(lw_{c} > lw_max) + lw_max * int(lw_{c} <= lw_max)" for c in range(1, K)
        ]
        norm = (
            [f"omega{suffix(c)} = exp(lw{suffix(c)} - lw_max)" for c in range(K)]
            + ["lw_total = " + " + ".join(f"omega{suffix(c)}" for c in range(K))]
            + [f"omega{suffix(c)} = omega{suffix(c)} / lw_total" for c in range(K)]
        )
        phases.op(self.importance, "\n".join(total + peak + norm), "normalise")

    def _dream(self, l: int) -> str:
        """Layer l's fantasies from the input above (eq. 1): S samples."""
        drive = "b_gen" if l == self.L else "b_gen + x_gen_sleep{c}"
        return "\n".join(
            f"p{suffix(c)} = {sigmoid(drive.format(c=suffix(c)))}\n"
            f"s_sleep{suffix(c)} = {sampled(self.uniform('sleep', l, c), f'p{suffix(c)}')}"
            for c in range(self.S)
        )

    def sleep(self, phases: Phases):
        """S fantasies top-down (eq. 1), the top layer from its biases alone."""
        lay, G, L, S = self.layers, self.generative, self.L, self.S
        self._dream_op(phases, L)
        self._emit(phases, lay[L], "sleep")
        for k in range(L - 1, -1, -1):
            if self.event:
                self._propagate(phases, G[k], "x_gen_sleep", "sleep")
            else:
                # one pass over the generative synapses G_k: they learn from the wake sample
                # (eq. 4; nothing reads them between the wake phase and here) and carry the
                # fantasy of layer k + 1 down to layer k (eq. 1), which resets its input once read
                phases.op(
                    G[k],
                    self.learning_code("generative", k)
                    + "".join(f"\nx_gen_sleep{suffix(c)}_post += mask * w * s_sleep{suffix(c)}_pre" for c in range(S)),
                    "wake_learn_and_fantasy",
                )
            self._dream_op(phases, k, "".join(f"\nx_gen_sleep{suffix(c)} = 0" for c in range(S)))
            self._emit(phases, lay[k], "sleep")

    def _dream_op(self, phases: Phases, l: int, reset: str = ""):
        """Layer l's fantasy (eq. 1): at once, or in its lateral order."""
        if self.circuit.lateral.of("generative", l) is None:
            phases.op(self.layers[l], self._dream(l) + reset, "dream")
            return
        bases = ["b_gen" if l == self.L else f"b_gen + x_gen_sleep{suffix(c)}" for c in range(self.S)]
        uniforms = [self.uniform("sleep", l, c) for c in range(self.S)]
        self._fire_in_order(phases, l, "generative", "s_sleep", bases, uniforms, reset)

    def sleep_learning(self, phases: Phases):
        """Recognition predictions of the fantasy and the delta rule (eq. 7)."""
        lay, R, S = self.layers, self.recognition, self.S
        for k in range(self.L):
            for c in range(S):
                self._propagate(phases, R[k], f"x_rec_sleep{suffix(c)}", "sleep")
            lateral = self.lateral.get(("recognition", k + 1))
            if lateral is not None:  # the lateral input of each fantasy, into its prediction
                for c in range(S):
                    phases.place(lateral.summed_updaters[f"xlat_rec{suffix(c)}_post"])
            extra = "" if lateral is None else " + xlat_rec{c}"
            phases.op(
                lay[k + 1],
                "\n".join(
                    f"q{suffix(c)} = {sigmoid(f'b_rec + x_rec_sleep{suffix(c)}' + extra.format(c=suffix(c)))}"
                    for c in range(S)
                )
                + "\n"
                + self._sleep_bias_update(k)
                + self._consumed("x_rec_sleep"),
                "sleep_bias",
            )
        for k in range(self.L):
            if self.event:
                phases.place(next(p for p in R[k]._pathways if p.name == f"{R[k].name}_learn"))
            else:
                phases.op(R[k], self.learning_code("recognition", k), "sleep")
        for (pathway, _), S in self.lateral.items():  # eq. 7 on the recognition lateral weights
            if pathway == "recognition":
                phases.op(S, "w += " + copies_sum("err_lat_rec{c}_post * s_sleep{c}_pre", self.S), "sleep_learn")

    # ------------------------------------------------------------ recordings

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
                    out[k][phase].append(a[:, k * n_l : (k + 1) * n_l])
        return out
