"""Experiment protocols: a sequence of epochs run on one compiled circuit.

An epoch has a length in examples, learning gates (``wake-sleep``, ``wake``,
``sleep``, ``frozen``), clamps (a 0/1 state per clamped layer, held in both
phases), lesions (a synapse set silenced whole or a random fraction of it)
and what to record (phase rasters, measures at the epoch's end).  Written in
TOML (``protocols/sleep_deprivation.toml``) or built in Python::

    [[epoch]]
    examples = 20000
    kind = "wake-sleep"
    record_spikes = 200            # rasters of the epoch's first 200 examples

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
import tomllib
from pathlib import Path

import numpy as np

from .circuit import Circuit
from .errors import bad
from .reference import Parameters, Perturbation
from .training import EPOCH_KINDS, Epoch, train

_EPOCH_KEYS = {"examples", "kind", "clamp", "lesion", "record_spikes", "name"}


@dataclasses.dataclass
class ProtocolEpoch:
    examples: int
    kind: str = "wake-sleep"
    clamp: dict = dataclasses.field(default_factory=dict)      # {layer: [0/1, ...]}
    lesion: dict = dataclasses.field(default_factory=dict)     # {"generative_k" | "recognition_k": fraction}
    record_spikes: int = 0
    name: str = ""

    def __post_init__(self):
        Epoch(self.examples, self.kind)  # validates length and kind
        if not 0 <= self.record_spikes <= self.examples:
            raise bad("epoch record_spikes", f"must be in 0..{self.examples}", self.record_spikes)
        for key, frac in self.lesion.items():
            if not (isinstance(frac, (int, float)) and 0.0 <= frac <= 1.0):
                raise bad(f"epoch lesion {key}", "must be a fraction in [0, 1]", frac)

    def perturbation(self, circuit: Circuit, rng: np.random.Generator) -> Perturbation:
        lesions = {}
        for key, frac in self.lesion.items():
            kind, _, k = key.rpartition("_")
            if kind not in ("generative", "recognition") or not k.isdigit():
                raise bad("epoch lesion", "keys are generative_K or recognition_K", key)
            k = int(k)
            if not 0 <= k < circuit.n_hidden_layers:
                raise bad("epoch lesion", f"no synapse set {key}", key)
            lesions[(kind, k)] = (rng.random(circuit.weight_shape(kind, k)) >= frac).astype(float)  # frac of them silenced
        clamps = {int(l): np.asarray(v, dtype=float) for l, v in self.clamp.items()}
        return Perturbation(lesions=lesions, clamps=clamps).validate(circuit)


def load_protocol(path) -> tuple:
    """A protocol TOML file -> (list of ProtocolEpoch, text)."""
    p = Path(path)
    if not p.exists():
        raise bad("protocol file", "does not exist", str(p))
    text = p.read_text()
    try:
        d = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise bad(f"protocol file {p}", f"not valid TOML: {e}") from None
    if set(d) - {"epoch"} or not isinstance(d.get("epoch"), list) or not d["epoch"]:
        raise bad(f"protocol file {p}", "needs one or more [[epoch]] tables and nothing else", sorted(d))
    epochs = []
    for i, e in enumerate(d["epoch"]):
        unknown = set(e) - _EPOCH_KEYS
        if unknown:
            raise bad(f"protocol file {p}: epoch {i + 1}", f"unknown keys; expected some of {sorted(_EPOCH_KEYS)}",
                      sorted(unknown))
        if "examples" not in e:
            raise bad(f"protocol file {p}: epoch {i + 1}", "missing key 'examples'")
        try:
            epochs.append(ProtocolEpoch(**{k: ({str(a): b for a, b in v.items()} if k in ("clamp", "lesion") else v)
                                           for k, v in e.items()}))
        except Exception as err:
            raise bad(f"protocol file {p}: epoch {i + 1}", str(err)) from None
    return epochs, text


def run_protocol(circuit: Circuit, stream, epochs, params: Parameters | None = None, seed: int = 0,
                 device: str | None = None, measures=None, progress: bool = True) -> dict:
    """Run the epochs one after another on ONE Brian2 build.

    ``measures(params) -> dict`` is evaluated after every epoch on the machine
    as the epoch left it, its lesions applied (e.g. the exact bars measures).  Returns ``{"params", "epochs": [per-epoch record]}``
    where each record holds the epoch, its measures and, if asked for, its
    wake and sleep rasters (spike times as example indices and unit indices).
    """
    from .brian2_engine import Brian2Engine, default_device

    params = (params or Parameters.initial(circuit)).copy()
    chunk = max(e.examples for e in epochs)
    rng = np.random.default_rng([seed, 11])
    records = []
    with Brian2Engine(circuit, device=device or default_device(), chunk=min(chunk, 100_000),
                      record_spikes=any(e.record_spikes for e in epochs)) as eng:
        for i, ep in enumerate(epochs):
            pt = ep.perturbation(circuit, rng)
            spikes = {}
            if ep.record_spikes:  # the first record_spikes examples, frozen copy: rasters without learning drift
                rows = stream.take(ep.record_spikes, rng)
                gates = EPOCH_KINDS[ep.kind]
                _, rec = eng.run(params, rows, seed * 1000 + i, np.full(len(rows), gates[0]),
                                 np.full(len(rows), gates[1]), perturbation=pt)
                for phase in ("wake", "sleep"):
                    for l, a in enumerate(rec[phase]):
                        t, u = np.nonzero(a)
                        spikes[f"{phase}_{l}_t"], spikes[f"{phase}_{l}_i"] = t, u
            r = train(circuit, stream, ep.examples, seed=seed * 1000 + i, engine=eng, params=params,
                      schedule=[Epoch(ep.examples, ep.kind)], progress=progress, perturbation=pt)
            params = r.params
            records.append({"epoch": dataclasses.asdict(ep), "examples_before": sum(e.examples for e in epochs[:i]),
                            "measures": measures(pt.lesioned(params)) if measures else {}, "spikes": spikes})
    return {"params": params, "epochs": records}


def save_recording(path, result: dict, protocol_text: str, circuit: Circuit, seed: int):
    """Recordings and measures, with the protocol that made them, in one .npz."""
    from .model_io import save_npz, versions

    arrays = {f"epoch{i}_{k}": v for i, r in enumerate(result["epochs"]) for k, v in r["spikes"].items()}
    arrays.update({f"final_{k}": v for k, v in result["params"].arrays().items()})
    meta = [{k: v for k, v in r.items() if k != "spikes"} for r in result["epochs"]]
    arrays.update(protocol=np.array(protocol_text), circuit=np.array(json.dumps(circuit.to_dict())),
                  epochs=np.array(json.dumps(meta)), seed=np.array(int(seed)),
                  versions=np.array(json.dumps(versions())), format=np.array("hm_neuro-recording-1"))
    save_npz(path, arrays)
