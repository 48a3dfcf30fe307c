"""Shared fixtures: small circuits, and Brian2 device state reset per test."""

import gc
import shutil

import numpy as np
import pytest

from hm_neuro.check import (  # noqa: F401
    EXPECTATION_SE,
    expected_sleep_update,
    expected_wake_update,
    mean_update_errors,
    random_parameters,
)
from hm_neuro.model import Circuit


def make_circuit(layers, rate=0.05, nonneg=(), name="test"):
    return Circuit.uniform(layers, rate, nonnegative_into=nonneg, name=name)


def three_machines(rng, n):
    """A population test case: three 4-3-2 machines with other learning
    rates and other data, the second lesioned and clamped, the third
    sleep-deprived for half of the ``n`` examples.  Returns (base circuit,
    circuits, params, data, perturbations, sleep gates)."""
    from hm_neuro.model import Perturbation
    from hm_neuro.training import BarsStream

    base = make_circuit([4, 3, 2], rate=0.05, nonneg=(0,))
    circuits = [
        base,
        base.replace(learning_rates={"generative_weights": [0.3, 0.01], "recognition_biases": 0.2}),
        base.replace(learning_rates={"recognition_weights": [0.0, 0.5]}),
    ]
    params = [random_parameters(c, rng) for c in circuits]
    data = [BarsStream(size=2, p_vertical=pv).take(n, rng) for pv in (0.2, 0.5, 0.9)]
    mask = (rng.random((3, 2)) < 0.5).astype(float)
    pts = [
        Perturbation(),
        Perturbation(lesions={("recognition", 1): mask}, clamps={2: np.array([0.0, 1.0])}),
        Perturbation(),
    ]
    sleep_gates = [np.ones(n), np.ones(n), (np.arange(n) < n // 2) * 1.0]
    return base, circuits, params, data, pts, sleep_gates


def assert_mean_update(total, eps, mean, second, M):
    """total = eps * sum of M independent updates; tolerance 4.5 standard
    errors from the exact variance (:func:`hm_neuro.check.mean_update_errors`)."""
    z = mean_update_errors(total, eps, mean, second, M)
    assert np.all(z <= EXPECTATION_SE), f"max error {z.max():.3g} standard errors"


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True)
def _reset_brian2_device():
    """Every test starts and ends on Brian2's runtime device."""
    yield
    import sys

    if "brian2" in sys.modules:
        import brian2

        if brian2.get_device().__class__.__name__ != "RuntimeDevice":
            brian2.device.reinit()
            brian2.set_device("runtime")


@pytest.fixture(autouse=True, scope="session")
def _imports_out_of_the_collectors_view():
    """Brian2, sympy, NumPy and the library imported, then frozen out of the
    garbage collector's view (``gc.freeze``): the full collections Brian2
    runs before every ``run()`` and an engine runs when it is closed then
    do not scan them (each scanned the whole process, ~0.1 s,
    about a fifth of the suite's CPU time).  Once, before any circuit
    exists: a Brian2 object frozen would keep its name after its release,
    and the next circuit of its shape would generate other sources (and not
    again later: tried at each test's start, a closed engine's objects
    stayed alive, held by a container frozen before the test and dropped
    in a cycle during it).  The
    libraries the suite's other tests import on the way (Matplotlib,
    scikit-learn, Dask's distributed, pynwb: ~140,000 objects, ~0.08 s a
    collection) are imported and frozen too."""
    import contextlib
    import importlib

    import brian2  # noqa: F401
    import matplotlib

    import hm_neuro.engines.brian2.engine  # noqa: F401

    matplotlib.use("Agg")  # the suite draws into files
    for name in ("matplotlib.pyplot", "hm_neuro.estimator", "dask.distributed", "pynwb"):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    gc.collect()
    gc.freeze()
    yield


def _brian2_memo_caches() -> list:
    """The memo dicts of Brian2's ``@cached`` functions (parsed equations and
    statements, code-generation statements, state updaters): the decorator
    keeps each in the wrapped function's ``_cache``."""
    import sys

    caches = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith("brian2") or module is None:
            continue
        for value in list(vars(module).values()):
            members = list(vars(value).values()) if isinstance(value, type) else []
            for obj in [value, *members]:
                wrapped = getattr(obj, "__dict__", {}).get("__wrapped__")
                cache = getattr(wrapped, "__dict__", {}).get("_cache")
                if isinstance(cache, dict):
                    caches[id(cache)] = cache
    return list(caches.values())


@pytest.fixture(autouse=True, scope="module")
def _brian2_memos_emptied_per_module():
    """Each test module starts with Brian2's memo caches empty.  They are
    never emptied by Brian2 (their keys: ~70,000 tuples a module of
    circuits), and the full collection Brian2 runs before every ``run()``
    scans them: in five engine modules, 12.8 s of 135 s in ``gc.collect``
    with them, 3.6 s of 127 s emptied.  A memo: emptying it changes no
    generated code (the build cache tests would see other sources)."""
    for cache in _brian2_memo_caches():
        cache.clear()
    yield


def has_compiler():
    return shutil.which("g++") is not None or shutil.which("c++") is not None


needs_compiler = pytest.mark.skipif(not has_compiler(), reason="no C++ compiler")


#: the spiking circuit's bridge to the binary machine: one clock step per window, the exact escape
BRIDGE = {"window": 1.0, "dt": 1.0}


def backends(
    need: str | None = None,
    compiled: bool = False,
    slow_compiled: bool = False,
    slow=(),
    cython: bool = False,
    event: bool = False,
    event_numpy: bool = False,
    reference: bool = True,
    without: str | None = None,
) -> list:
    """One pytest param per way to run a circuit, from the engine registry
    (``hm_neuro.engines.CAPABILITIES``; nengo's pattern: adding an engine
    runs every test written against this list on it): the options of
    ``make_engine`` as a dict.  Brian2 engines run on the numpy device and
    (``compiled``) on cpp_standalone, marked; the spiking engine at its
    bridge, where it is the binary machine.  ``need``: a capability the
    engine must declare (``"rules"``, ``"plasticity"``, ...);
    ``slow_compiled``: the compiled ones in the slow tier; ``slow``: ids
    of others in the slow tier; ``cython``: Brian2 engines on the cython
    device too (slow tier: ~40 code objects compile); ``event``: engines
    declaring event-driven propagation on cpp_standalone with it too
    (``<name>-cpp-event``), and (``event_numpy``) on the numpy device
    (``<name>-numpy-event``); ``reference``: include the NumPy reference
    (False in tests that hold the others to it); ``without``: a capability
    the engine must not declare (``"spiking"``: the binary circuits)."""
    from hm_neuro.engines import CAPABILITIES
    from hm_neuro.model import Spiking

    out = []
    for name, can in CAPABILITIES.items():
        if (need is not None and not getattr(can, need)) or (without is not None and getattr(can, without)):
            continue
        if not can.brian2:
            if reference or name != "numpy":
                out.append(pytest.param({"engine": name}, id=name))
            continue
        base = {"engine": name, **({"spiking": Spiking(**BRIDGE)} if can.spiking else {})}
        out.append(pytest.param({**base, "device": "numpy"}, id=f"{name}-numpy"))
        if event_numpy and can.event:
            out.append(pytest.param({**base, "device": "numpy", "propagation": "event"}, id=f"{name}-numpy-event"))
        if compiled:
            cpp = {**base, "device": "cpp_standalone"}
            variants = [(cpp, f"{name}-cpp")]
            if event and can.event:
                variants.append(({**cpp, "propagation": "event"}, f"{name}-cpp-event"))
            for options, id_ in variants:
                late = slow_compiled or id_ in slow
                marks = [needs_compiler, pytest.mark.standalone] + ([pytest.mark.slow] if late else [])
                out.append(pytest.param(options, id=id_, marks=marks))
        if cython:
            marks = [needs_compiler, pytest.mark.slow]
            out.append(pytest.param({**base, "device": "cython"}, id=f"{name}-cython", marks=marks))
    return [p if p.id not in slow or p.marks else pytest.param(*p.values, id=p.id, marks=pytest.mark.slow) for p in out]


def cli_args(options: dict) -> list:
    """A :func:`backends` param's options as ``hm-neuro train`` arguments."""
    args = ["--engine", options["engine"]]
    for key in ("device", "propagation"):
        if key in options:
            args += [f"--{key}", options[key]]
    return args
