"""Behaviour every engine must show, run on every engine through one fixture
(nengo's Simulator-fixture style), and populations held exactly to separate
reference runs."""

import numpy as np
import pytest
from conftest import backends, make_circuit, random_parameters, three_machines

from hm_neuro.engines import make_engine, reference
from hm_neuro.errors import HMError
from hm_neuro.model import Parameters, Perturbation, Uniforms
from hm_neuro.training import BarsStream, Checkpointing, train


@pytest.fixture(params=backends())
def engine(request):
    """A factory of engines of one kind, every registered engine in turn
    (``conftest.backends``): ``engine(circuit, **options)``."""
    made = []

    def factory(circuit, **kw):
        eng = make_engine(circuit, **{**request.param, **kw})
        made.append(eng)
        return eng

    yield factory
    for e in made:
        e.close()


def _run(engine, circuit, p0, n, wake, sleep, pt=None, seed=3):
    data = BarsStream(size=int(round(circuit.n_input**0.5))).take(n, np.random.default_rng(seed))
    eng = engine(circuit, chunk=n)
    return eng.run(p0, data, seed, np.full(n, wake), np.full(n, sleep), perturbation=pt or Perturbation())[0]


def test_frozen_epoch_changes_nothing_but_wake_only_and_sleep_only_change_their_pathway(engine, rng):
    c = make_circuit([4, 3, 2], rate=0.1)
    p0 = random_parameters(c, rng)
    frozen = _run(engine, c, p0, 50, 0.0, 0.0)
    assert frozen.max_abs_difference(p0) == 0.0
    wake = _run(engine, c, p0, 50, 1.0, 0.0)
    sleep = _run(engine, c, p0, 50, 0.0, 1.0)
    for k in range(2):
        assert np.array_equal(wake.recognition_weights[k], p0.recognition_weights[k])
        assert not np.array_equal(wake.generative_weights[k], p0.generative_weights[k])
        assert np.array_equal(sleep.generative_weights[k], p0.generative_weights[k])
        assert not np.array_equal(sleep.recognition_weights[k], p0.recognition_weights[k])


def test_constrained_generative_weights_stay_nonnegative(engine, rng):
    c = make_circuit([4, 3, 2], rate=0.5, nonneg=(0,))
    p0 = random_parameters(c, rng)
    p = _run(engine, c, p0, 200, 1.0, 1.0)
    assert p.generative_weights[0].min() >= 0.0
    assert p.generative_weights[1].min() < 0.0  # unconstrained set is free


def test_a_lesioned_synapse_neither_carries_input_nor_learns_and_a_clamp_holds(engine, rng):
    c = make_circuit([4, 3, 2], rate=0.1)
    p0 = random_parameters(c, rng)
    mask = np.ones((4, 3))
    mask[:, 0] = 0
    eng = engine(c, chunk=100, record_spikes=True)
    data = BarsStream(size=2).take(100, np.random.default_rng(1))
    pt = Perturbation(lesions={("recognition", 0): mask}, clamps={2: np.array([1.0, 0.0])})
    p, rec = eng.run(p0, data, 5, perturbation=pt)
    assert np.array_equal(p.recognition_weights[0][:, 0], p0.recognition_weights[0][:, 0])
    assert not np.array_equal(p.recognition_weights[0][:, 1], p0.recognition_weights[0][:, 1])
    for phase in ("wake", "sleep"):
        assert np.all(rec[phase][2] == [1.0, 0.0])


def interrupted_at(eng, call: int):
    """``eng`` with Ctrl-C arriving during its ``call``-th chunk."""
    inner_run, calls = eng.run_population, []

    def run_population(*a, **k):
        calls.append(1)
        if len(calls) == call:
            raise KeyboardInterrupt
        return inner_run(*a, **k)

    eng.run_population = run_population
    return eng


def test_a_lesioned_set_carries_no_input(engine):
    """With all top-down input to layer 0 cut, fantasies follow the biases alone."""
    circuit = make_circuit([6, 3], rate=0.0)
    p0 = Parameters.initial(circuit)
    p0.generative_weights[0][:] = 50.0  # would switch every pixel on
    p0.generative_biases[0][:] = -50.0  # alone: every pixel off
    p0.generative_biases[1][:] = 50.0  # hidden units always on
    pt = Perturbation(lesions={("generative", 0): np.zeros((3, 6))})
    eng = engine(circuit, chunk=200, record_spikes=True)
    _, intact = eng.run(p0, np.zeros((200, 6)), seed=1)
    _, lesioned = eng.run(p0, np.zeros((200, 6)), seed=1, perturbation=pt)
    assert intact["sleep"][0].mean() == 1.0
    assert lesioned["sleep"][0].mean() == 0.0


def test_checkpoint_resume_is_bit_identical(engine, tmp_path):
    c = make_circuit([4, 3, 1], rate=0.05)
    ckpt = tmp_path / "c.npz"

    whole = train(c, BarsStream(size=2), 600, seed=4, engine=engine(c, chunk=200, record_every=100), progress=False)
    eng = interrupted_at(engine(c, chunk=200, record_every=100), 3)
    with pytest.raises(KeyboardInterrupt, match="checkpoint saved"):
        train(c, BarsStream(size=2), 600, seed=4, engine=eng, progress=False, checkpoint=Checkpointing(ckpt, 10_000))
    resumed = train(
        c,
        BarsStream(size=2),
        600,
        seed=4,
        engine=engine(c, chunk=200, record_every=100),
        progress=False,
        checkpoint=Checkpointing(ckpt, resume=True),
    )
    assert resumed.params.max_abs_difference(whole.params) == 0.0
    assert resumed.history_seen == whole.history_seen == list(range(0, 601, 100))
    assert set(resumed.history) == set(whole.history)  # every array's history, restored
    for name, values in whole.history.items():
        np.testing.assert_array_equal(resumed.history[name], values, err_msg=name)


def test_resume_refuses_changed_options_naming_them(engine, tmp_path):
    c = make_circuit([4, 3, 1], rate=0.05)
    ckpt = tmp_path / "c.npz"
    eng = interrupted_at(engine(c, chunk=100), 2)
    with pytest.raises(KeyboardInterrupt, match="checkpoint saved"):
        train(c, BarsStream(size=2), 300, seed=4, engine=eng, progress=False, checkpoint=Checkpointing(ckpt, 10_000))
    other = c.replace(learning_rates={"generative_weights": [0.2, 0.05]})
    differs = r"checkpoint .*c\.npz: was made with a different circuit\.learning_rates\.generative_weights\[0\]"
    with pytest.raises(HMError, match=differs):
        train(
            other,
            BarsStream(size=2),
            300,
            seed=4,
            engine=engine(c, chunk=100),
            progress=False,
            checkpoint=Checkpointing(ckpt, resume=True),
        )
    with pytest.raises(HMError, match=r"was made with a different data .*p_vertical=0\.5"):
        train(
            c,
            BarsStream(size=2, p_vertical=0.5),
            300,
            seed=4,
            engine=engine(c, chunk=100),
            progress=False,
            checkpoint=Checkpointing(ckpt, resume=True),
        )


# ------------------------------------------------------------- populations


def _population_engines():
    """Every engine that takes its uniform numbers as arrays, held to the
    reference (conftest.backends, from the registry); the Brian2 ones also
    with the data as a table of rows and packed row indices (``data_rows``)."""
    for o in backends("uniforms", compiled=True, reference=False):
        yield o
        if "device" in o.values[0]:
            yield pytest.param({**o.values[0], "data_rows": 8}, id=f"{o.id}-table", marks=o.marks)


@pytest.mark.equivalence
@pytest.mark.parametrize("options", list(_population_engines()))
def test_population_reproduces_separate_reference_runs_exactly(options, rng):
    """Three machines in one circuit -- other learning rates, other data,
    one lesioned and clamped, one sleep-deprived -- each equal to its own
    reference run fed the same uniforms."""
    n = 300
    base, circuits, params, data, pts, sleep_gates = three_machines(rng, n)
    uniforms = [Uniforms.draw(base, n, rng) for _ in circuits]
    gates = [(np.ones(n), g) for g in sleep_gates]
    extra = {"external_uniforms": True} if "device" in options else {}  # bars 2x2 as a table: 6 images per machine
    eng = make_engine(base, chunk=n, n_machines=3, **options, **extra)
    try:
        out, _ = eng.run_population(
            params,
            data,
            [1, 2, 3],
            [g[0] for g in gates],
            [g[1] for g in gates],
            uniforms=uniforms,
            perturbation=pts,
            circuits=circuits,
        )
    finally:
        eng.close()
    for k, c in enumerate(circuits):
        ref = params[k].copy()
        reference.train(ref, c, data[k], uniforms[k], gates[k][0], gates[k][1], perturbation=pts[k])
        assert out[k].max_abs_difference(ref) <= 1e-12, f"machine {k}"
        assert out[k].max_abs_difference(params[k]) > 1e-3


def test_population_training_returns_one_result_per_machine_and_refuses_mixed_shapes():
    from hm_neuro.training import train_population

    c = make_circuit([4, 2], rate=0.05)
    res = train_population(c, [BarsStream(size=2), BarsStream(size=2)], 200, [0, 1], engine="numpy", progress=False)
    assert len(res) == 2 and res[0].params.max_abs_difference(res[1].params) > 0
    alone = train(c, BarsStream(size=2), 200, seed=1, engine="numpy", progress=False)
    assert alone.params.max_abs_difference(res[1].params) == 0.0  # the reference: machines are independent
    with pytest.raises(HMError, match=r"circuit: every machine of a population has the shape"):
        train_population([c, make_circuit([4, 3])], [BarsStream(size=2)] * 2, 10, [0, 1], engine="numpy")


def test_the_factory_refuses_brian2_options_for_the_reference():
    c = make_circuit([4, 2])
    with pytest.raises(HMError, match=r"device: applies to the brian2 engine only"):
        make_engine(c, "numpy", device="cpp_standalone")
    with pytest.raises(HMError, match=r"propagation: applies to the brian2 engine only"):
        make_engine(c, "numpy", propagation="event")
    with pytest.raises(HMError, match=r"engine: must be one of"):
        make_engine(c, "loihi")
