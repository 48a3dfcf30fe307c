import numpy as np
import pytest
from conftest import make_circuit

from hm_neuro.engines.reference import NumpyEngine
from hm_neuro.errors import HMError
from hm_neuro.training import (
    BarsStream,
    Checkpointing,
    Epoch,
    SweepStream,
    parse_schedule,
    plan_chunks,
    schedule_gates,
    train,
    train_population,
)


def test_schedule_parsing_and_gates():
    epochs = parse_schedule("wake-sleep:3, wake:2,sleep:1,frozen:2")
    assert [e.kind for e in epochs] == ["wake-sleep", "wake", "sleep", "frozen"]
    wake, sleep = schedule_gates(epochs, 1, 8)
    assert wake.tolist() == [1, 1, 1, 1, 0, 0, 0]
    assert sleep.tolist() == [1, 1, 0, 0, 1, 0, 0]
    with pytest.raises(HMError, match=r"schedule: each epoch is KIND:EXAMPLES"):
        parse_schedule("wake")
    with pytest.raises(HMError, match=r"schedule: epoch length '0' must be a whole number in 1..1e\+12"):
        parse_schedule("wake:0")


def test_chunks_split_evenly():
    assert plan_chunks(2_000_000, 100_000) == 100_000
    assert plan_chunks(250_001, 100_000) == 83_334
    assert plan_chunks(10, 100_000) == 10


@pytest.mark.parametrize(
    "chunk, every, planned",
    [(700, 500, 500), (1000, 500, 1000), (65536, 1000, 65000), (300, 500, 300), (7, 13, 7), (500, 0, 500)],
)
def test_a_history_per_chunk_plans_chunks_of_multiples_of_record_every(chunk, every, planned):
    """Engines that record the history from each chunk's start plan chunks of
    a multiple of record_every (shorter ones are cut at its multiples as they
    run); the others keep their chunk."""
    from hm_neuro.engines import EngineOptions, history_chunk

    assert history_chunk(EngineOptions.of("brian2", record_every=every), chunk) == planned
    assert history_chunk(EngineOptions.of("vectorised", record_every=every), chunk) == chunk


def test_sweeps_present_every_row_once_per_sweep(rng):
    rows = np.eye(5)
    s = SweepStream(rows)
    got = np.concatenate([s.take(3, rng) for _ in range(5)])  # 15 rows = 3 sweeps
    for k in range(3):
        assert sorted(got[5 * k : 5 * k + 5].argmax(1).tolist()) == [0, 1, 2, 3, 4]


def test_same_seed_same_weights_other_seed_other_weights():
    c = make_circuit([16, 4, 2])
    a = train(c, BarsStream(), 600, seed=5, engine="numpy", chunk=250, progress=False).params
    b = train(c, BarsStream(), 600, seed=5, engine="numpy", chunk=250, progress=False).params
    d = train(c, BarsStream(), 600, seed=6, engine="numpy", chunk=250, progress=False).params
    assert a.max_abs_difference(b) == 0.0
    assert a.max_abs_difference(d) > 1e-3


class DivergingEngine(NumpyEngine):
    """Runs the reference, then poisons the weights on its second chunk."""

    def __init__(self, circuit, poison=np.inf):
        super().__init__(circuit, chunk=100)
        self.calls, self.poison = 0, poison

    def train_chunk(self, params, chunk):
        params, extras = super().train_chunk(params, chunk)
        self.calls += 1
        if self.calls == 2:
            params[0].generative_weights[0][0, 0] = self.poison
        return params, extras


def test_divergence_stops_with_the_examples_seen_and_keeps_the_last_checkpoint(tmp_path):
    c = make_circuit([16, 4, 2])
    ckpt = tmp_path / "c.npz"
    expected = (
        r"training: diverged: weights not finite or beyond inf after 200 examples.*"
        r"last good checkpoint: .*c\.npz"
    )
    with pytest.raises(HMError, match=expected):
        train(c, BarsStream(), 300, engine=DivergingEngine(c), progress=False, checkpoint=Checkpointing(ckpt, 100))
    z = np.load(ckpt)
    assert np.all(np.isfinite(z["param_generative_weights_0"]))


def test_finite_but_huge_weights_are_divergence_too():
    c = make_circuit([16, 4, 2])
    with pytest.raises(HMError, match=r"training: diverged: weights not finite or beyond 1e\+299 after 200"):
        train(c, BarsStream(), 300, engine=DivergingEngine(c, poison=1e299), progress=False)


def test_examples_must_be_positive_and_match_the_schedule():
    c = make_circuit([16, 2])
    with pytest.raises(HMError, match=r"examples: must be an integer in 1..1e\+12 \(got 0\)"):
        train(c, BarsStream(), 0, engine="numpy", progress=False)
    with pytest.raises(HMError, match=r"examples: a schedule needs at least one epoch"):
        train(c, BarsStream(), [], engine="numpy", progress=False)
    with pytest.raises(HMError, match=r"schedule: must be a list of hm_neuro.Epoch .*\(got \[5\]\)"):
        train(c, BarsStream(), [5], engine="numpy", progress=False)
    with pytest.raises(HMError, match=r"schedule: the machines of a population train for one number .*\[5, 10\]"):
        train_population(c, [BarsStream()] * 2, [[Epoch(5)], "wake:10"], [0, 1], engine="numpy", progress=False)
    with pytest.raises(HMError, match=r"schedule: needs one schedule per machine \(2\) \(got 3\)"):
        train_population(c, [BarsStream()] * 2, [[Epoch(5)]] * 3, [0, 1], engine="numpy", progress=False)


def test_a_schedule_says_how_many_examples_and_its_text_is_the_same_schedule():
    """A schedule in place of a number trains for its total; its text is the same schedule."""
    c = make_circuit([16, 2])
    a = train(c, BarsStream(), [Epoch(30), Epoch(20, "wake")], engine="numpy", progress=False)
    b = train(c, BarsStream(), "wake-sleep:30,wake:20", engine="numpy", progress=False)
    first = train(c, BarsStream(), 30, engine="numpy", progress=False)
    plain = train(c, BarsStream(), 50, engine="numpy", progress=False)
    assert a.examples_seen == b.examples_seen == 50
    for x, y in zip(a.params.arrays().values(), b.params.arrays().values()):
        assert np.array_equal(x, y)
    # 20 examples of wake alone leave the recognition weights where 30 of wake-sleep put them
    assert np.array_equal(a.params.recognition_weights[0], first.params.recognition_weights[0])
    assert not np.array_equal(a.params.recognition_weights[0], plain.params.recognition_weights[0])
    assert not np.array_equal(a.params.generative_weights[0], first.params.generative_weights[0])
