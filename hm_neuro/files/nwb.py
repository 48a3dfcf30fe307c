"""A run's recordings as a Neurodata Without Borders file (``pynwb``, the
optional extra ``hm_neuro[nwb]``), so that a model's activity can be read
by the tools that read recorded data.

What :func:`to_nwb` writes:

* **spikes** of the spiking circuit (a recording from
  ``engine.run(..., record_spikes=True)``): the ``units`` table, one row per
  unit, with its ``layer`` and ``unit_in_layer`` and its spike times in
  seconds;
* **unit states** of the binary circuit (the same recording's ``wake`` and
  ``sleep`` states): one ``TimeSeries`` per layer and phase in the
  acquisition group (``wake_layer_1``, ...), ``(examples, units)`` of 0/1,
  one timestamp per example;
* **phases**: a ``phases`` intervals table with a row per example and
  phase -- ``start_time``, ``stop_time``, ``phase`` (wake, sleep) and
  ``example`` -- from the circuit's clock (:meth:`Spiking.phases`; the
  binary circuit runs a whole example in one step, so its wake and sleep
  rows share that step);
* **weights over time** (a :class:`hm_neuro.training.TrainResult` with a
  history): a ``plasticity`` processing module with one ``TimeSeries`` per
  parameter array, ``(snapshots, size)``, timestamped by the examples seen
  times the example's duration;
* **metadata**: the circuit (its JSON, as a model file holds it) and the
  training settings in the file's ``notes`` (JSON), the package versions in
  ``source_script``.

Time is the circuit's: one example lasts ``example_seconds`` (the spiking
circuit's cycle; the binary circuit's 0.1 ms step), and the recording's
first example is at 0.
"""

from __future__ import annotations

import datetime
import json
import uuid
import warnings

import numpy as np

from ..errors import HMError, bad
from ..model import Circuit
from .model_io import atomic_path, versions

#: the binary circuit's example: one clock step (hm_neuro.engines.brian2: 0.1 ms)
BINARY_EXAMPLE_SECONDS = 1e-4


def _pynwb():
    try:
        import pynwb
    except ImportError:
        raise HMError("nwb: writing NWB needs pynwb; install the extra: pip install 'hm_neuro[nwb]'") from None
    return pynwb


def to_nwb(
    path,
    circuit: Circuit,
    *,
    recording: dict | None = None,
    result=None,
    example_seconds: float | None = None,
    description: str = "",
    training: dict | None = None,
):
    """Write ``recording`` (one machine's extras of ``engine.run(...,
    record_spikes=True)``) and/or ``result`` (a TrainResult: its weight
    history) of ``circuit`` to the NWB file ``path`` (module docstring);
    ``training``: settings to record beside the circuit.  Written
    atomically; returns the path."""
    pynwb = _pynwb()
    if recording is None and result is None:
        raise bad("to_nwb", "needs a recording or a training result to write")
    spiking = recording is not None and "cycle_ms" in recording
    if example_seconds is None:
        example_seconds = recording["cycle_ms"] / 1000.0 if spiking else BINARY_EXAMPLE_SECONDS
    meta = {"circuit": circuit.to_dict(), "training": training or {}}
    if result is not None:
        meta["training"].update(
            examples_seen=int(result.examples_seen),
            seed=result.seed.label() if hasattr(result.seed, "label") else str(result.seed),
            engine=result.engine,
            device=result.device,
        )
    nwb = pynwb.NWBFile(
        session_description=description or f"hm_neuro: a Helmholtz machine ({circuit.name}) trained by wake-sleep",
        identifier=str(uuid.uuid4()),
        session_start_time=datetime.datetime.now(datetime.UTC),
        notes=json.dumps(meta, sort_keys=True),
        source_script=json.dumps(versions(), sort_keys=True),
        source_script_file_name="hm_neuro",
    )
    if recording is not None:
        _phases(nwb, circuit, recording, example_seconds, spiking)
        if spiking:
            _spikes(nwb, circuit, recording)
        else:
            _states(pynwb, nwb, recording, example_seconds)
    if result is not None and result.history:
        _weights(pynwb, nwb, result, example_seconds)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not end in '.nwb'")  # the temporary name; the file's does
        with pynwb.NWBHDF5IO(str(tmp), "w") as io:
            io.write(nwb)
    return path


def _examples(recording: dict) -> int:
    return int(len(recording["wake"][0]))


def _phases(nwb, circuit: Circuit, recording: dict, example_seconds: float, spiking: bool):
    """The ``phases`` intervals: a row per example and phase."""
    from pynwb.epoch import TimeIntervals

    table = TimeIntervals(name="phases", description="the wake and sleep phase of every example")
    table.add_column(name="phase", description="wake or sleep")
    table.add_column(name="example", description="the example's index in the recording")
    if spiking:
        sp = circuit.spiking()
        L, in_order = circuit.n_hidden_layers, circuit.lateral.in_order()
        cut = sp.phases(L, in_order)["sleep_start"] / sp.steps_per_example(L, in_order)
    else:
        cut = 0.0  # one step holds both phases
    for e in range(_examples(recording)):
        t0, t1 = e * example_seconds, (e + 1) * example_seconds
        middle = t0 + cut * example_seconds if spiking else t1
        table.add_row(start_time=t0, stop_time=middle, phase="wake", example=e)
        table.add_row(start_time=middle if spiking else t0, stop_time=t1, phase="sleep", example=e)
    nwb.add_time_intervals(table)


def _spikes(nwb, circuit: Circuit, recording: dict):
    """The units table: every unit's spike times (s), its layer and index."""
    nwb.add_unit_column(name="layer", description="the unit's layer (0: the input)")
    nwb.add_unit_column(name="unit_in_layer", description="the unit's index in its layer")
    for layer, (times_ms, units) in enumerate(recording["spikes"]):
        times_ms, units = np.asarray(times_ms, dtype=float), np.asarray(units)
        for u in range(circuit.layers[layer]):
            nwb.add_unit(spike_times=np.sort(times_ms[units == u]) / 1000.0, layer=layer, unit_in_layer=u)


def _states(pynwb, nwb, recording: dict, example_seconds: float):
    """The binary circuit's states: a TimeSeries per layer and phase."""
    for phase in ("wake", "sleep"):
        for layer, states in enumerate(recording[phase]):
            states = np.asarray(states, dtype=np.uint8)
            nwb.add_acquisition(
                pynwb.TimeSeries(
                    name=f"{phase}_layer_{layer}",
                    data=states,
                    unit="on (1) or off (0)",
                    timestamps=np.arange(len(states)) * example_seconds,
                    description=f"the {phase} state of every unit of layer {layer}, one row per example",
                )
            )


def _weights(pynwb, nwb, result, example_seconds: float):
    """The weight history: a TimeSeries per parameter array in a processing module."""
    module = nwb.create_processing_module(
        name="plasticity", description="weights and biases over training (wake-sleep, Hinton et al. 1995 eqs. 4, 7)"
    )
    seen = np.asarray(result.history_seen, dtype=float)
    for name, values in result.history.items():
        module.add(
            pynwb.TimeSeries(
                name=name,
                data=np.asarray(values, dtype=float),
                unit="1 (dimensionless weight)",
                timestamps=seen * example_seconds,
                description=f"{name}, flattened, one row per snapshot; the time is the examples seen "
                f"x {example_seconds:g} s (comments: examples_seen)",
                comments=json.dumps({"examples_seen": [int(s) for s in seen]}),
            )
        )


def read_nwb(path) -> dict:
    """What :func:`to_nwb` wrote, read back with pynwb: ``circuit``,
    ``training``, ``spikes`` (per layer: per unit the spike times, s),
    ``states`` ({(phase, layer): array}), ``phases`` (rows of (start, stop,
    phase, example)) and ``weights`` ({name: (timestamps, data)})."""
    pynwb = _pynwb()
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        f = io.read()
        meta = json.loads(f.notes)
        out = {"circuit": Circuit.from_dict(meta["circuit"]), "training": meta["training"], "states": {}, "weights": {}}
        if f.units is not None:
            df = f.units.to_dataframe()
            out["spikes"] = {
                (int(r.layer), int(r.unit_in_layer)): np.asarray(r.spike_times, dtype=float) for r in df.itertuples()
            }
        for name, ts in f.acquisition.items():
            phase, _, layer = name.split("_")
            out["states"][(phase, int(layer))] = np.asarray(ts.data[:])
        table = f.intervals["phases"].to_dataframe() if "phases" in f.intervals else None
        out["phases"] = (
            []
            if table is None
            else list(table[["start_time", "stop_time", "phase", "example"]].itertuples(index=False))
        )
        if "plasticity" in f.processing:
            for name, ts in f.processing["plasticity"].data_interfaces.items():
                out["weights"][name] = (np.asarray(ts.timestamps[:]), np.asarray(ts.data[:]))
    return out
