"""NWB export (hm_neuro.files.nwb): a run's recordings written with pynwb and
read back equal to the run."""

import numpy as np
import pytest

import hm_neuro as hm

pytest.importorskip("pynwb")


def test_a_spiking_runs_spikes_phases_and_weights_round_trip(tmp_path):
    c = hm.load_circuit("bars")
    data = hm.sample_bars(6, np.random.default_rng(0))
    with hm.make_engine(c, "spiking", device="numpy", chunk=6, record_spikes=True) as eng:
        _, rec = eng.run(hm.Parameters.initial(c), data, seed=1)
    result = hm.train(c, hm.BarsStream(), 600, seed=2, engine="numpy", record_every=200, progress=False)
    path = hm.to_nwb(tmp_path / "run.nwb", c, recording=rec, result=result, training={"data": "bars"})
    back = hm.read_nwb(path)
    assert back["circuit"] == c and back["training"]["examples_seen"] == 600 and back["training"]["data"] == "bars"
    spikes = 0
    for layer, (t_ms, units) in enumerate(rec["spikes"]):
        for u in range(c.layers[layer]):
            np.testing.assert_allclose(back["spikes"][(layer, u)], np.sort(t_ms[units == u]) / 1000.0)
            spikes += np.sum(units == u)
    assert spikes > 0
    cycle = rec["cycle_ms"] / 1000.0
    assert len(back["phases"]) == 12 and [p.phase for p in back["phases"][:2]] == ["wake", "sleep"]
    assert back["phases"][2].start_time == pytest.approx(cycle)  # example 1 starts one cycle in
    for name, values in result.history.items():
        stamps, got = back["weights"][name]
        np.testing.assert_array_equal(got, values)
        np.testing.assert_allclose(stamps, np.asarray(result.history_seen) * cycle)


def test_a_binary_runs_states_round_trip(tmp_path):
    c = hm.load_circuit("bars")
    data = hm.sample_bars(5, np.random.default_rng(0))
    with hm.make_engine(c, "numpy", chunk=5, record_spikes=True) as eng:
        _, rec = eng.run(hm.Parameters.initial(c), data, seed=1)
    back = hm.read_nwb(hm.to_nwb(tmp_path / "b.nwb", c, recording=rec))
    for phase in ("wake", "sleep"):
        for layer in range(3):
            np.testing.assert_array_equal(back["states"][(phase, layer)], rec[phase][layer])
    np.testing.assert_array_equal(back["states"][("wake", 0)], data)  # awake, the input holds the data


def test_nothing_to_write_is_refused_and_writes_nothing(tmp_path):
    with pytest.raises(hm.HMError, match=r"to_nwb: needs a recording or a training result"):
        hm.to_nwb(tmp_path / "x.nwb", hm.load_circuit("bars"))
    assert list(tmp_path.iterdir()) == []


def test_export_writes_a_models_activity_and_history(tmp_path):
    """(Its bad input: the export table of test_bad_inputs.py.)"""
    from helpers import run_cli

    def cli(*args):
        return run_cli(*args, cwd=tmp_path)

    assert (
        cli("train", "--engine", "numpy", "--examples", 2000, "--record-every", 1000, "--out", "m.npz", "-q").returncode
        == 0
    )
    r = cli("export", "--model", "m.npz", "--history", "m.history.npz", "--nwb", "m.nwb", "--examples", 8, "-q")
    assert r.returncode == 0, r.stderr
    back = hm.read_nwb(tmp_path / "m.nwb")
    assert back["training"]["recorded"]["examples"] == 8 and len(back["phases"]) == 16
    seen, snaps, _ = hm.files.model_io.load_history(tmp_path / "m.history.npz")
    np.testing.assert_array_equal(back["weights"]["generative_weights_0"][1], snaps["generative_weights_0"])
    assert sum(len(t) for t in back["spikes"].values()) > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.history.npz", "m.npz", "m.nwb"]
