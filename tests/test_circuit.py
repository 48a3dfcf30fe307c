import math

import pytest

from hm_neuro.errors import HMError
from hm_neuro.model import Circuit, load_circuit

GOOD = """
layers = [4, 3, 2]
nonnegative_generative_weights_into = [0]
[learning_rates]
generative_weights = [0.2, 0.001]
recognition_weights = 0.1
generative_biases = [0.2, 0.001, 0.001]
recognition_biases = [0.2, 0.001]
[initial_values]
generative_biases = [0.0, -3.0, 0.0]
"""


def write(tmp_path, text, name="c.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_shipped_circuits_match_the_papers():
    bars = load_circuit("bars")
    assert bars.layers == (16, 8, 1)
    assert bars.learning_rates["generative_weights"] == (0.2, 0.001)
    assert bars.learning_rates["recognition_weights"] == (0.2, 0.001)
    assert bars.initial_values["generative_biases"] == (0.0, -3.0, 0.0)
    assert bars.nonnegative(0) and not bars.nonnegative(1)
    digits = load_circuit("digits")
    assert digits.layers == (64, 16, 16, 4)
    assert all(v == 0.01 for vs in digits.learning_rates.values() for v in vs)
    assert all(v == 0.0 for vs in digits.initial_values.values() for v in vs)
    assert load_circuit("nines").n_hidden_layers == 2


def test_scalars_broadcast_and_missing_initial_values_default_to_zero(tmp_path):
    c = load_circuit(write(tmp_path, GOOD))
    assert c.learning_rates["recognition_weights"] == (0.1, 0.1)
    assert c.initial_values["recognition_biases"] == (0.0, 0.0)
    assert c.name == "c"


def test_round_trip_through_dict(tmp_path):
    c = load_circuit(write(tmp_path, GOOD))
    assert Circuit.from_dict(c.to_dict()) == c


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t.replace("layers = [4, 3, 2]\n", ""), r"layers: missing key"),
        (lambda t: t + "\nfoo = 1\n", r"foo: unknown key"),
        (
            lambda t: t.replace("recognition_weights = 0.1", "recognition_weights = 0.1\nbogus = 2"),
            r"learning_rates.bogus: unknown key",
        ),
        (
            lambda t: t.replace("recognition_biases = [0.2, 0.001]\n", "", 1),
            r"learning_rates.recognition_biases: missing key",
        ),
        (lambda t: t.replace("[4, 3, 2]", "[4, 0, 2]"), r"layers\[1\]: must be in 1..100000 units \(got 0\)"),
        (lambda t: t.replace("[4, 3, 2]", "[4, -3, 2]"), r"layers\[1\]: must be in 1..100000 units \(got -3\)"),
        (lambda t: t.replace("[4, 3, 2]", "[4]"), r"layers: need an input layer and at least one hidden layer"),
        (lambda t: t.replace("[4, 3, 2]", "[4, 3.5, 2]"), r"layers\[1\]: must be an integer"),
        (lambda t: t.replace("[4, 3, 2]", '"4-3-2"'), r"layers: must be a list"),
        (
            lambda t: t.replace("recognition_weights = 0.1", "recognition_weights = -0.1"),
            r"learning_rates.recognition_weights: learning rates must be >= 0",
        ),
        (
            lambda t: t.replace("recognition_weights = 0.1", "recognition_weights = nan"),
            r"learning_rates.recognition_weights: must be finite",
        ),
        (
            lambda t: t.replace("recognition_weights = 0.1", 'recognition_weights = "fast"'),
            r"learning_rates.recognition_weights: must be a number",
        ),
        (
            lambda t: t.replace("generative_weights = [0.2, 0.001]", "generative_weights = [0.2]"),
            r"generative_weights: needs 2 entries",
        ),
        (
            lambda t: t.replace(
                "nonnegative_generative_weights_into = [0]", "nonnegative_generative_weights_into = [5]"
            ),
            r"nonnegative_generative_weights_into: layer 5 has no incoming generative weights",
        ),
        (lambda t: t.replace("[4, 3, 2]", "[4, 3, 2"), r"not valid TOML"),
    ],
)
def test_bad_circuit_files_name_the_key(tmp_path, edit, message):
    p = write(tmp_path, edit(GOOD))
    with pytest.raises(HMError, match=message):
        load_circuit(p)


def test_missing_circuit_file_and_unknown_name(tmp_path):
    with pytest.raises(HMError, match=r"circuit file .*nope.toml: does not exist"):
        load_circuit(tmp_path / "nope.toml")
    with pytest.raises(HMError, match=r"circuit: no such circuit; names are \[.*'bars'"):
        load_circuit("nope")
    with pytest.raises(HMError, match=r"circuit file .*: is a directory"):
        load_circuit(str(tmp_path) + "/")
    with pytest.raises(HMError, match=r"layers: 1e\+10 weights per pathway is more than the limit"):
        Circuit.uniform([100_000, 100_000], 0.1)


def test_constrained_set_cannot_start_negative():
    with pytest.raises(HMError, match=r"initial_values.generative_weights: .*kept >= 0"):
        Circuit(
            layers=(2, 1),
            learning_rates={
                k: 0.1 for k in ("generative_weights", "recognition_weights", "generative_biases", "recognition_biases")
            },
            initial_values={"generative_weights": -1.0},
            nonnegative_generative_weights_into=(0,),
        )
    assert math.isclose(load_circuit("bars").initial_values["generative_biases"][1], -3.0)
