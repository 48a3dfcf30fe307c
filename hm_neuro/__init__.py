"""hm_neuro: the Helmholtz machine and wake-sleep learning (Hinton, Dayan, Frey &
Neal 1995) as a Brian2 circuit, with a NumPy reference it is held to.

``import hm_neuro as hm`` gives the public API::

    circuit = hm.load_circuit("bars")                  # what a machine is (hm.model)
    result = hm.train(circuit, hm.BarsStream(), 20_000, seed=0, engine="numpy")
    hm.exact_summary(result.params, *hm.bars_distribution())   # description length, free energy, KL

Layers, bottom to top (each imports only those below it): :mod:`hm_neuro.model`
(circuits, rules, dynamics, the papers' equations), :mod:`hm_neuro.files`,
:mod:`hm_neuro.measures`, :mod:`hm_neuro.engines` (the reference, the
vectorised engine, the Brian2 circuit), :mod:`hm_neuro.training`,
:mod:`hm_neuro.runs` and :mod:`hm_neuro.estimator`, :mod:`hm_neuro.plotting`,
:mod:`hm_neuro.experiments`, the command line.  Importing this package does
not import Brian2 (an engine imports it when it is made); each name is
imported from its module when first used, so ``import hm_neuro.model`` loads
the model alone.
"""

import importlib

from ._version import __version__

#: the public names, and the module each comes from (imported when first used)
_PUBLIC = {
    "hm_neuro.model": [
        "Circuit",
        "load_circuit",
        "Rule",
        "Spiking",
        "Precision",
        "Grid",
        "Plasticity",
        "Parameters",
        "Uniforms",
        "Perturbation",
        "sigmoid",
        "sample_recognition",
        "sample_fantasies",
    ],
    "hm_neuro.engines": ["EngineOptions", "make_engine", "ENGINES", "DEVICES"],
    "hm_neuro.training": [
        "train",
        "train_population",
        "TrainResult",
        "Checkpointing",
        "Epoch",
        "parse_schedule",
        "BarsStream",
        "SweepStream",
    ],
    "hm_neuro.files.data": ["bars_distribution", "sample_bars", "load_digits", "load_data_file"],
    "hm_neuro.files.model_io": [
        "save_model",
        "load_model",
        "save_history",
        "load_history",
        "continuation",
        "Continuation",
    ],
    "hm_neuro.files.nwb": ["to_nwb", "read_nwb"],
    "hm_neuro.measures": [
        "description_length",
        "exact_free_energy",
        "exact_log2_prob",
        "exact_summary",
        "kl_data_model",
        "sampled_free_energy",
        "importance_log2_prob",
    ],
    "hm_neuro.seeds": ["SeedTree"],
    "hm_neuro.errors": ["HMError"],
    "hm_neuro.estimator": ["HelmholtzMachine"],
}
_WHERE = {name: module for module, names in _PUBLIC.items() for name in names}
_MODULES = {
    "plotting": "hm_neuro.plotting",
    "model": "hm_neuro.model",
    "engines": "hm_neuro.engines",
    "training": "hm_neuro.training",
    "measures": "hm_neuro.measures",
    "files": "hm_neuro.files",
    "runs": "hm_neuro.runs",
    "experiments": "hm_neuro.experiments",
}
__all__ = ["__version__", "test", *_WHERE, *_MODULES]


def __getattr__(name):
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
    elif name in _MODULES:
        value = importlib.import_module(_MODULES[name])
    else:
        raise AttributeError(f"module 'hm_neuro' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)


def test(devices=("numpy", "cpp_standalone"), quick: bool = True) -> bool:
    """Run the equivalence checks on this installation's Brian2, compiler and
    devices (``hm-neuro check``); prints a table, returns True if all pass."""
    from .check import run_checks

    return run_checks(devices=devices, quick=quick)
