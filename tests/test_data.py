import numpy as np
import pytest

from hm_neuro.errors import HMError
from hm_neuro.files.data import bars_distribution, load_data_file, load_digits, sample_bars, validate_binary


def test_bars_distribution_has_30_images_and_the_blank_one_is_0_8_to_the_4():
    patterns, probs = bars_distribution()
    assert patterns.shape == (30, 16)
    assert probs.sum() == pytest.approx(1.0, abs=1e-15)
    blank = np.where(patterns.sum(1) == 0)[0]
    assert probs[blank[0]] == pytest.approx(0.8**4)
    full = np.where(patterns.sum(1) == 16)[0]  # all four bars, either orientation
    assert probs[full[0]] == pytest.approx(0.2**4)


def test_bars_sampler_frequencies_match_the_exact_distribution(rng):
    patterns, probs = bars_distribution()
    n = 100_000
    x = sample_bars(n, rng)
    index = {tuple(p.astype(int)): k for k, p in enumerate(patterns)}
    counts = np.bincount([index[tuple(r.astype(int))] for r in x], minlength=len(probs))
    se = np.sqrt(probs * (1 - probs) / n)
    assert np.all(np.abs(counts / n - probs) < 4.5 * se)


def test_vertical_bars_are_columns(rng):
    x = sample_bars(200, rng, p_vertical=1.0, p_bar=0.5).reshape(-1, 4, 4)
    assert np.all(x == x[:, :1, :])  # every row equals the first row


def test_bars_arguments_are_checked(rng):
    with pytest.raises(HMError, match=r"p_vertical: must be a probability in \[0, 1\] \(got 1.5\)"):
        sample_bars(3, rng, p_vertical=1.5)


def test_digits_are_binary_8x8_with_labels():
    x, y = load_digits()
    assert x.shape == (1797, 64) and set(np.unique(x)) == {0.0, 1.0}
    x9, y9 = load_digits(digits=[9])
    assert np.all(y9 == 9) and len(x9) == np.sum(y == 9)


@pytest.mark.parametrize(
    "content, message",
    [
        (np.array([[0, 1, 2, 0]]), r"values must be 0 or 1 \(got \[2.0\]\)"),
        (np.array([[0, 1, np.nan, 0]]), r"contains NaN or infinite values"),
        (np.array([[0, 1, np.inf, 0]]), r"contains NaN or infinite values"),
        (np.array([[0, 1, 0]]), r"rows have 3 values but the circuit's input layer has 4 units"),
        (np.zeros((0, 4)), r"has no rows"),
        (np.zeros((2, 2, 4)), r"must be a 2-D array"),
    ],
)
def test_bad_npy_data_is_refused(tmp_path, content, message):
    p = tmp_path / "d.npy"
    np.save(p, content)
    with pytest.raises(HMError, match=r"data file .*d\.npy: " + message):
        load_data_file(p, n_input=4)


def test_csv_npz_and_npy_load_alike(tmp_path, rng):
    x = (rng.random((5, 4)) < 0.5).astype(float)
    np.save(tmp_path / "a.npy", x)
    np.savez(tmp_path / "a.npz", data=x)
    np.savetxt(tmp_path / "a.csv", x, delimiter=",", fmt="%d")
    for name in ("a.npy", "a.npz", "a.csv"):
        np.testing.assert_array_equal(load_data_file(tmp_path / name, 4), x)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("r.csv", "0,1,0,1\n0,1\n", r"ragged CSV: line 2 has 2 values, the first row has 4"),
        ("t.csv", "0,1,x,1\n", r"line 1 has a value that is not a number"),
        ("e.csv", "", r"has no rows"),
        ("e.npy", "", r"is not an \.npy file \(no NUMPY header\)"),
        ("d.txt.gz", "0", r"unknown format"),
    ],
)
def test_bad_text_files_are_refused(tmp_path, name, content, message):
    p = tmp_path / name
    p.write_text(content)
    with pytest.raises(HMError, match=message):
        load_data_file(p, n_input=4)


def test_truncated_npy_is_refused(tmp_path):
    p = tmp_path / "t.npy"
    np.save(p, np.zeros((100, 4)))
    p.write_bytes(p.read_bytes()[:200])
    with pytest.raises(HMError, match=r"t\.npy: is truncated: its header claims shape \(100, 4\)"):
        load_data_file(p, n_input=4)


def test_missing_file(tmp_path):
    with pytest.raises(HMError, match=r"data file .*nope\.npy: does not exist"):
        load_data_file(tmp_path / "nope.npy")


def test_validation_never_modifies_the_input():
    x = np.array([[0, 1], [1, 0]], dtype=np.int64)
    y = validate_binary(x)
    y[0, 0] = 1
    assert x[0, 0] == 0 and y.dtype == np.float64
