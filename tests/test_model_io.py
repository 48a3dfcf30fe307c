import pickle

import numpy as np
import pytest
from conftest import make_circuit, random_parameters

from hm_neuro.errors import HMError
from hm_neuro.files.model_io import load_history, load_model, save_history, save_model
from hm_neuro.model import load_circuit


def test_round_trip_keeps_every_array_and_the_provenance(tmp_path, rng):
    c = load_circuit("bars")
    p = random_parameters(c, rng)
    save_model(tmp_path / "m.npz", p, c, seed=7, examples_seen=123, engine="brian2", device="numpy")
    q, c2, meta = load_model(tmp_path / "m.npz")
    assert q.max_abs_difference(p) == 0.0
    assert c2 == c
    assert meta["seed"] == 7 and meta["examples_seen"] == 123
    assert set(meta["versions"]) >= {"hm_neuro", "brian2", "numpy", "python"}
    assert not list(tmp_path.glob("*.tmp"))


def test_truncated_model_is_refused(tmp_path, rng):
    c = load_circuit("bars")
    save_model(tmp_path / "m.npz", random_parameters(c, rng), c, 0, 0)
    data = (tmp_path / "m.npz").read_bytes()
    (tmp_path / "m.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(HMError, match=r"model file .*m\.npz: is truncated or not an \.npz archive"):
        load_model(tmp_path / "m.npz")


def test_pickle_inside_is_refused_never_loaded(tmp_path):
    np.savez(
        tmp_path / "evil.npz", format=np.array("hm_neuro-model-1"), circuit=np.array([{"layers": [2, 1]}], dtype=object)
    )
    with pytest.raises(HMError, match=r"holds pickled objects; refused"):
        load_model(tmp_path / "evil.npz")


def test_raw_pickle_file_is_refused(tmp_path):
    (tmp_path / "p.npz").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(HMError, match=r"model file .*p\.npz: "):
        load_model(tmp_path / "p.npz")


def test_wrong_shapes_for_the_circuit(tmp_path, rng):
    c = load_circuit("bars")
    save_model(tmp_path / "m.npz", random_parameters(c, rng), c, 0, 0)
    z = dict(np.load(tmp_path / "m.npz"))
    z["generative_weights_0"] = np.zeros((8, 15))
    np.savez(tmp_path / "bad.npz", **z)
    with pytest.raises(HMError, match=r"array 'generative_weights_0' has shape \(8, 15\), the circuit needs \(8, 16\)"):
        load_model(tmp_path / "bad.npz")


def test_model_of_another_circuit_is_refused(tmp_path, rng):
    c = make_circuit([4, 3, 2])
    save_model(tmp_path / "m.npz", random_parameters(c, rng), c, 0, 0)
    with pytest.raises(HMError, match=r"was trained on layers \[4, 3, 2\], not the circuit's \[16, 8, 1\]"):
        load_model(tmp_path / "m.npz", load_circuit("bars"))


def test_not_a_model(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.zeros(3))
    with pytest.raises(HMError, match=r"not an hm_neuro model"):
        load_model(tmp_path / "x.npz")
    with pytest.raises(HMError, match=r"does not exist"):
        load_model(tmp_path / "none.npz")


def test_history_round_trip(tmp_path):
    c = make_circuit([4, 2])
    from hm_neuro.model import Parameters

    hist = {k: np.stack([v.ravel(), v.ravel() + 1]) for k, v in Parameters.initial(c).arrays().items()}
    hist["generative_weights_0"] = np.arange(16.0).reshape(2, 8)
    save_history(tmp_path / "h.npz", [0, 10], hist, c, seed=1)
    seen, snaps, c2 = load_history(tmp_path / "h.npz")
    assert seen.tolist() == [0, 10] and c2 == c
    np.testing.assert_array_equal(snaps["generative_weights_0"], hist["generative_weights_0"])
