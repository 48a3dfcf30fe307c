"""Experiment protocols: a sequence of epochs run on one compiled circuit.

An epoch has a length in examples, learning gates (``wake-sleep``, ``wake``,
``sleep``, ``frozen``), clamps (a 0/1 state per clamped layer, held in both
phases), lesions (a synapse set silenced whole or a random fraction of it)
and what to record (phase rasters, measures at the epoch's end).  Written in
TOML (the shipped ``sleep_deprivation`` protocol, ``hm_neuro/protocols/``) or built in Python::

    [[epoch]]
    examples = 20000
    kind = "wake-sleep"
    record_spikes = 200            # rasters of the epoch's first 200 examples
    measure_every = 5000           # measures every 5000 examples within the epoch (default: at its end)

    [[epoch]]
    examples = 20000
    kind = "wake"                  # sleep deprivation
    lesion = { recognition_0 = 0.5 }   # half of the bottom-up synapses into layer 1 silenced
    clamp = { 2 = [1] }            # top layer held on

Every epoch runs inside compiled runs of the same Brian2 build (no Python call
per example); recordings are saved with the protocol text that made them.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
from tqdm.auto import tqdm

from ..engines import MAX_CHUNK, make_engine
from ..errors import HMError, bad
from ..files.model_io import save_npz, versions
from ..model import Circuit, Parameters, Perturbation
from ..resources import read_toml
from ..seeds import tree
from ..training import EPOCH_KINDS, Epoch, train

#: bounds of a protocol epoch (rasters are held in memory)
MAX_PROTOCOL_EXAMPLES = 10**9
MAX_RECORDED = 100_000
_EPOCH_KEYS = {"examples", "kind", "clamp", "lesion", "record_spikes", "measure_every", "name"}


@dataclasses.dataclass
class ProtocolEpoch:
    examples: int
    kind: str = "wake-sleep"
    clamp: dict = dataclasses.field(default_factory=dict)  # {layer: [0/1, ...]}
    lesion: dict = dataclasses.field(default_factory=dict)  # {"generative_k" | "recognition_k": fraction}
    record_spikes: int = 0
    measure_every: int = 0  # 0: measures at the epoch's end only
    name: str = ""

    def __post_init__(self):
        Epoch(self.examples, self.kind)  # validates length and kind
        if not 0 <= self.record_spikes <= self.examples:
            raise bad("epoch record_spikes", f"must be in 0..{self.examples}", self.record_spikes)
        if (
            isinstance(self.measure_every, bool)
            or not isinstance(self.measure_every, int)
            or not 0 <= self.measure_every <= self.examples
        ):
            raise bad("epoch measure_every", f"must be an integer in 0..{self.examples}", self.measure_every)
        for key, frac in self.lesion.items():
            if not (isinstance(frac, (int, float)) and 0.0 <= frac <= 1.0):
                raise bad(f"epoch lesion {key}", "must be a fraction in [0, 1]", frac)
        if self.examples > MAX_PROTOCOL_EXAMPLES:
            raise bad("epoch examples", f"at most {MAX_PROTOCOL_EXAMPLES:.0e} per epoch", self.examples)
        if self.record_spikes > MAX_RECORDED:
            raise bad("epoch record_spikes", f"at most {MAX_RECORDED} examples can be recorded", self.record_spikes)

    def segments(self) -> list:
        """Lengths of the stretches between measurements (the last may be shorter)."""
        step = self.measure_every or self.examples
        return [min(step, self.examples - a) for a in range(0, self.examples, step)]

    def perturbation(self, circuit: Circuit, rng: np.random.Generator) -> Perturbation:
        lesions = {}
        for key, frac in self.lesion.items():
            kind, _, k = key.rpartition("_")
            if kind not in ("generative", "recognition") or not k.isdigit():
                raise bad("epoch lesion", "keys are generative_K or recognition_K", key)
            k = int(k)
            if not 0 <= k < circuit.n_hidden_layers:
                raise bad("epoch lesion", f"no synapse set {key}", key)
            lesions[(kind, k)] = (rng.random(circuit.weight_shape(kind, k)) >= frac).astype(
                float
            )  # frac of them silenced
        clamps = {int(l): np.asarray(v, dtype=float) for l, v in self.clamp.items()}
        return Perturbation(lesions=lesions, clamps=clamps).validate(circuit)


def load_protocol(spec) -> tuple:
    """A protocol TOML file or shipped name -> (list of ProtocolEpoch, text).

    Every malformed protocol gets a message in protocol terms (which epoch,
    which key, what is expected)."""
    d, source, _, text = read_toml("protocols", spec)
    if set(d) - {"epoch"} or not isinstance(d.get("epoch"), list) or not d["epoch"]:
        raise bad(source, "needs one or more [[epoch]] tables and nothing else", sorted(d))
    epochs = []
    for i, e in enumerate(d["epoch"]):
        where = f"{source}: epoch {i + 1}"
        if not isinstance(e, dict):
            raise bad(where, "must be an [[epoch]] table with examples = N", e)
        unknown = set(e) - _EPOCH_KEYS
        if unknown:
            raise bad(where, f"unknown keys; expected some of {sorted(_EPOCH_KEYS)}", sorted(unknown))
        if "examples" not in e:
            raise bad(where, "missing key 'examples'")
        for key in ("clamp", "lesion"):
            if key in e and not isinstance(e[key], dict):
                raise bad(
                    f"{where}: {key}",
                    "must be a table, e.g. clamp = { 2 = [1] } or lesion = { recognition_0 = 0.5 }",
                    e[key],
                )
        clamp = {}
        for layer, state in e.get("clamp", {}).items():
            if not str(layer).isdigit():
                raise bad(f"{where}: clamp", "keys are layer numbers (0 = input)", layer)
            if not isinstance(state, list) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and v in (0, 1) for v in state
            ):
                raise bad(f"{where}: clamp {layer}", "must be a list of 0s and 1s, one per unit", state)
            clamp[int(layer)] = state
        for key, value in e.items():
            if key in ("examples", "record_spikes", "measure_every") and (
                isinstance(value, bool) or not isinstance(value, int)
            ):
                raise bad(f"{where}: {key}", "must be a whole number", value)
            if key in ("kind", "name") and not isinstance(value, str):
                raise bad(f"{where}: {key}", "must be text", value)
        lesion = {}
        for key, frac in e.get("lesion", {}).items():
            if isinstance(frac, bool) or not isinstance(frac, (int, float)):
                raise bad(f"{where}: lesion {key}", "must be a fraction in [0, 1]", frac)
            lesion[str(key)] = frac
        try:
            epochs.append(ProtocolEpoch(**{**e, "clamp": clamp, "lesion": lesion}))
        except HMError as err:
            raise HMError(f"{where}: {err}") from None
    return epochs, text


def run_protocol(
    circuit: Circuit,
    stream,
    epochs,
    params: Parameters | None = None,
    seed=0,
    engine: str = "brian2",
    *,
    measures=None,
    progress: bool = True,
    **options,
) -> dict:
    """Run the epochs one after another on ONE engine (one compiled build);
    ``options`` go to :func:`hm_neuro.engines.make_engine` (``device``,
    ``propagation``, ``spiking``, ...).

    ``measures(params) -> dict`` is evaluated before the first epoch, at
    the start of every epoch (its lesions and clamps on: a change at the
    boundary is a step), after every ``measure_every`` examples of an epoch
    and at its end, on the
    machine as it is then, the epoch's lesions applied (e.g. the exact bars
    measures).  Returns ``{"params", "initial_measures", "epochs": [...]}``
    where each epoch record holds the epoch, its measures at the end, the
    ``trace`` of measures within it (``examples`` counted from the protocol's
    start), and, if asked for, its wake and sleep rasters (example and unit
    indices) and the firing probability of every unit per phase.

    ``engine="spiking"`` with ``spiking`` (:class:`hm_neuro.model.Spiking`)
    runs the protocol in real time; its rasters are the states of each
    example's phases ("fired in its window"), as on the binary circuit.

    Seeds: epoch ``i`` uses the ``epoch, i`` child of the seed tree; its
    lesions the ``lesion`` child of that, its rasters the ``data`` child, and
    measurement segment ``j`` the ``segment, j`` child (:mod:`hm_neuro.seeds`).
    """
    root = tree(seed)
    params = (params or Parameters.initial(circuit)).copy()
    chunk = max(max(ep.segments()) for ep in epochs)
    for ep in epochs:  # fail on a bad lesion or clamp before building anything
        ep.perturbation(circuit, np.random.default_rng(0))
    records = []
    initial = measures(params) if measures else {}
    total = sum(ep.examples for ep in epochs)
    record_spikes = any(e.record_spikes for e in epochs)
    with (
        tqdm(total=total, disable=not progress, unit="ex", unit_scale=True, desc="protocol") as bar,
        make_engine(circuit, engine, chunk=min(chunk, MAX_CHUNK), record_spikes=record_spikes, **options) as eng,
    ):
        run = _Protocol(circuit, stream, eng, measures, bar.update)
        for i, ep in enumerate(epochs):
            params, record = run.epoch(ep, root.child("epoch", i), params)
            records.append(record)
    return {"params": params, "initial_measures": initial, "epochs": records}


@dataclasses.dataclass
class _Protocol:
    """What the epochs of a protocol share: the machine's circuit and data,
    the engine, the measures and the progress bar's update."""

    circuit: Circuit
    stream: object
    eng: object
    measures: object
    update: object
    #: examples trained so far (counted from the protocol's start)
    done: int = 0

    def epoch(self, ep: ProtocolEpoch, node, params: Parameters) -> tuple:
        """One epoch from ``params``: its rasters (a frozen copy), then its
        training in measurement segments; returns (params, its record)."""
        pt = ep.perturbation(self.circuit, node.child("lesion").rng())
        spikes, rates = self.rasters(ep, node, params, pt) if ep.record_spikes else ({}, {})
        measures = self.measures
        # the epoch's start, its lesions and clamps on: a change at the boundary is a step
        trace = [{"examples": self.done, **measures(pt.lesioned(params))}] if measures else []
        for j, n in enumerate(ep.segments()):
            r = train(
                self.circuit,
                self.stream,
                [Epoch(n, ep.kind)],
                seed=node.child("segment", j),
                engine=self.eng,
                params=params,
                progress=self.update,  # one bar for the whole protocol
                perturbation=pt,
            )
            params = r.params
            self.done += n
            if measures:
                trace.append({"examples": self.done, **measures(pt.lesioned(params))})
        record = {
            "epoch": dataclasses.asdict(ep),
            "examples_before": self.done - ep.examples,
            "measures": {k: v for k, v in trace[-1].items() if k != "examples"} if trace else {},
            "trace": trace,
            "rates": rates,
            "spikes": spikes,
        }
        return params, record

    def rasters(self, ep: ProtocolEpoch, node, params: Parameters, pt) -> tuple:
        """The first ``record_spikes`` examples of an epoch on a frozen copy
        (rasters without learning drift): per phase and layer the on units'
        (example, unit) indices, and each unit's firing probability."""
        rows = self.stream.take(ep.record_spikes, node.child("data").rng())
        gates = EPOCH_KINDS[ep.kind]
        n = len(rows)
        _, rec = self.eng.run(
            params, rows, self.eng.seed_for(node), np.full(n, gates[0]), np.full(n, gates[1]), perturbation=pt
        )
        spikes, rates = {}, {}
        for phase in ("wake", "sleep"):
            rates[phase] = [a.mean(axis=0).tolist() for a in rec[phase]]
            for l, a in enumerate(rec[phase]):
                t, u = np.nonzero(a)
                spikes[f"{phase}_{l}_t"], spikes[f"{phase}_{l}_i"] = t, u
        return spikes, rates


def save_recording(path, result: dict, protocol_text: str, circuit: Circuit, seed: int):
    """Recordings and measures, with the protocol that made them, in one .npz."""
    arrays = {f"epoch{i}_{k}": v for i, r in enumerate(result["epochs"]) for k, v in r["spikes"].items()}
    arrays.update({f"final_{k}": v for k, v in result["params"].arrays().items()})
    meta = [{k: v for k, v in r.items() if k != "spikes"} for r in result["epochs"]]
    arrays["initial_measures"] = np.array(json.dumps(result.get("initial_measures", {})))
    arrays.update(
        protocol=np.array(protocol_text),
        circuit=np.array(json.dumps(circuit.to_dict())),
        epochs=np.array(json.dumps(meta)),
        seed=np.array(int(seed)),
        versions=np.array(json.dumps(versions())),
        format=np.array("hm_neuro-recording-1"),
    )
    save_npz(path, arrays)
