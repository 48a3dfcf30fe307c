"""Continued training is exact: a machine trained 20,000 examples and then
continued for 10,000 with the same seed is the machine trained 30,000 in one
run (the counter-based stream and the data start where it stopped), and
``examples_seen`` counts on."""

import numpy as np
import pytest
from conftest import backends, make_circuit
from helpers import run_cli

import hm_neuro as hm
from hm_neuro.errors import HMError

#: every registered engine (conftest.backends); the spiking circuit on Brian2's numpy target in the slow tier
ENGINES = backends(slow=("spiking-numpy",))


@pytest.mark.parametrize("options", ENGINES)
def test_two_thousand_then_one_equal_three_in_one_run(options):
    """Continued training is the one run: parameters, history rows and
    example count; chunks of 700 examples, so the first run ends, and the
    whole one has a boundary, mid-chunk."""
    c = hm.load_circuit("bars")
    n1, n2 = 2000, 1000
    kw = dict(progress=False, record_every=500, chunk=700, **options)
    first = hm.train(c, hm.BarsStream(), n1, seed=0, **kw)
    continued = hm.train(c, hm.BarsStream(), n2, seed=0, params=first, **kw)
    whole = hm.train(c, hm.BarsStream(), n1 + n2, seed=0, **kw)
    assert continued.examples_seen == n1 + n2
    assert continued.params.max_abs_difference(whole.params) <= 1e-12
    assert continued.history_seen == [s for s in whole.history_seen if s >= n1]
    np.testing.assert_array_equal(
        continued.history["generative_weights_0"], whole.history["generative_weights_0"][-len(continued.history_seen) :]
    )
    restarted = hm.train(c, hm.BarsStream(), n2, seed=0, params=first.params, **kw)  # Parameters: counted from 0
    assert restarted.examples_seen == n2 and restarted.params.max_abs_difference(whole.params) > 1e-3


def test_a_model_file_continues_through_init_on_the_command_line(tmp_path):
    def train(*args):
        r = run_cli("train", "--engine", "numpy", "--seed", 0, "-q", *args, cwd=tmp_path)
        assert r.returncode == 0, r.stderr

    train("--examples", "20000", "--out", "a.npz")
    train("--examples", "10000", "--init", "a.npz", "--out", "b.npz")
    train("--examples", "30000", "--out", "whole.npz")
    b, _, meta = hm.load_model(tmp_path / "b.npz")
    whole = hm.load_model(tmp_path / "whole.npz")[0]
    assert meta["examples_seen"] == 30_000
    assert b.max_abs_difference(whole) <= 1e-12
    assert hm.continuation(tmp_path / "b.npz").examples_seen == 30_000


def test_a_population_continues_from_one_example_count():
    c = make_circuit([4, 3])
    a = hm.train(c, hm.BarsStream(size=2), 100, seed=0, engine="numpy", progress=False)
    b = hm.train(c, hm.BarsStream(size=2), 200, seed=1, engine="numpy", progress=False)
    with pytest.raises(HMError, match=r"params: the machines of a population continue from one example count"):
        hm.train_population(c, [hm.BarsStream(size=2)] * 2, 100, [0, 1], "numpy", params=[a, b], progress=False)


@pytest.mark.parametrize("options", [e for e in ENGINES if e.id != "numpy"])
def test_a_synapse_state_continues_exactly(options):
    """The hidden state of a declared synapse (circuits/bars_consolidation)
    is part of what continues: 2000 + 1000 equals 3000 in one run."""
    c = hm.load_circuit("bars_consolidation")
    kw = dict(progress=False, **options)
    first = hm.train(c, hm.BarsStream(), 2000, seed=3, **kw)
    continued = hm.train(c, hm.BarsStream(), 1000, seed=3, params=first, **kw)
    whole = hm.train(c, hm.BarsStream(), 3000, seed=3, **kw)
    assert set(whole.params.synapse_state) == {
        (s, h) for s in ("generative_weights", "recognition_weights") for h in ("u1", "u2")
    }
    assert continued.params.max_abs_difference(whole.params) <= 1e-12


#: the spiking circuit on the numpy target in the slow tier: a lateral input layer fires in 16 windows, so
#: its 6000 examples are ~180,000 clock steps (13 min); its bridge is held to the reference in test_lateral
@pytest.mark.parametrize("options", backends(need="lateral", slow=("spiking-numpy",)))
def test_lateral_weights_continue_exactly(options):
    """A machine with lateral connections (hm_neuro.model.lateral): 2000 +
    1000 examples equal 3000 in one run, lateral weights and their history included."""
    c = hm.load_circuit("bars").replace(
        lateral={"generative": {"0": {"learning_rate": 0.2}}, "recognition": {"1": {"learning_rate": 0.05}}}
    )
    kw = dict(progress=False, record_every=500, **options)
    first = hm.train(c, hm.BarsStream(), 2000, seed=3, **kw)
    continued = hm.train(c, hm.BarsStream(), 1000, seed=3, params=first, **kw)
    whole = hm.train(c, hm.BarsStream(), 3000, seed=3, **kw)
    assert set(whole.params.lateral) == {("generative", 0), ("recognition", 1)}
    assert continued.params.max_abs_difference(whole.params) <= 1e-12
    for key in ("generative_lateral_0", "recognition_lateral_1"):
        np.testing.assert_array_equal(continued.history[key], whole.history[key][-len(continued.history_seen) :])


@pytest.mark.parametrize("options", [e for e in ENGINES if e.id != "numpy"])
@pytest.mark.parametrize("chunk", [30, 70])
def test_the_history_is_recorded_at_the_same_examples_as_the_references_whatever_the_chunk(options, chunk):
    """Every ``record_every`` examples of the run, not of each chunk (Brian2's
    monitors count from a chunk's start: chunks of 70 or 30 against
    record_every 50 once gave rows at 60, 110, ...), with the reference's
    values; a run continued from 170 examples too."""
    c = hm.load_circuit("bars")
    kw = dict(progress=False, record_every=50, chunk=chunk)
    ref = hm.train(c, hm.BarsStream(), 300, seed=0, engine="numpy", **kw)
    got = hm.train(c, hm.BarsStream(), 300, seed=0, **kw, **options)
    assert got.history_seen == ref.history_seen == list(range(0, 301, 50))
    assert got.history.keys() == ref.history.keys()
    for k in ref.history:
        np.testing.assert_allclose(got.history[k], ref.history[k], rtol=0, atol=1e-12, err_msg=k)
    first = hm.train(c, hm.BarsStream(), 170, seed=0, **kw, **options)
    continued = hm.train(c, hm.BarsStream(), 130, seed=0, params=first, **kw, **options)
    assert continued.history_seen == [200, 250, 300]
    np.testing.assert_allclose(
        continued.history["recognition_weights_0"], ref.history["recognition_weights_0"][-3:], atol=1e-12
    )
