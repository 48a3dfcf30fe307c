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
not import Brian2 (an engine imports it when it is made).
"""

from ._version import __version__
from .engines import DEVICES, ENGINES, EngineOptions, make_engine
from .errors import HMError
from .files.data import bars_distribution, load_data_file, load_digits, sample_bars
from .files.model_io import load_history, load_model, save_history, save_model
from .measures import (
    description_length,
    exact_free_energy,
    exact_log2_prob,
    exact_summary,
    importance_log2_prob,
    kl_data_model,
    sampled_free_energy,
)
from .model import (
    Circuit,
    Parameters,
    Perturbation,
    Rule,
    Spiking,
    Uniforms,
    load_circuit,
    sample_fantasies,
    sample_recognition,
    sigmoid,
)
from .seeds import SeedTree
from .training import (
    BarsStream,
    Checkpointing,
    Epoch,
    SweepStream,
    TrainResult,
    parse_schedule,
    train,
    train_population,
)

__all__ = [
    "__version__",
    "Circuit",
    "load_circuit",
    "Rule",
    "Spiking",
    "Parameters",
    "Uniforms",
    "Perturbation",
    "sigmoid",
    "sample_recognition",
    "sample_fantasies",
    "EngineOptions",
    "make_engine",
    "ENGINES",
    "DEVICES",
    "train",
    "train_population",
    "TrainResult",
    "Checkpointing",
    "Epoch",
    "parse_schedule",
    "BarsStream",
    "SweepStream",
    "bars_distribution",
    "sample_bars",
    "load_digits",
    "load_data_file",
    "save_model",
    "load_model",
    "save_history",
    "load_history",
    "description_length",
    "exact_free_energy",
    "exact_log2_prob",
    "exact_summary",
    "kl_data_model",
    "sampled_free_energy",
    "importance_log2_prob",
    "SeedTree",
    "HelmholtzMachine",
    "HMError",
    "plotting",
    "test",
]


def __getattr__(name):
    import importlib

    if name == "plotting":  # matplotlib and scikit-learn are imported only when asked for
        return importlib.import_module(".plotting", __name__)
    if name == "HelmholtzMachine":
        return importlib.import_module(".estimator", __name__).HelmholtzMachine
    raise AttributeError(f"module 'hm_neuro' has no attribute {name!r}")


def test(devices=("numpy", "cpp_standalone"), quick: bool = True) -> bool:
    """Run the equivalence checks on this installation's Brian2, compiler and
    devices (``hm-neuro check``); prints a table, returns True if all pass."""
    from .check import run_checks

    return run_checks(devices=devices, quick=quick)
