"""The counter-based stream itself (hm_neuro.philox): the published generator,
its three implementations held to each other, and its statistics."""

import ctypes
import shutil
import subprocess

import numpy as np
import pytest

from hm_neuro import philox
from hm_neuro.seeds import SeedTree


def test_the_known_answer_of_philox4x64_10():
    # Random123's known-answer vector for philox4x64-10, counter 0 and key 0
    words = philox.philox4x64([0, 0, 0, 0], [0, 0])
    assert [int(w) for w in words] == [0x16554D9ECA36314C, 0xDB20FE9D672D0FDC, 0xD7E772CEE186176B, 0x7E68B68AEC7BA23B]


def test_the_specification_equals_numpys_philox_for_random_counters_and_keys():
    rng = np.random.default_rng(0)
    for _ in range(20):
        c = [int(x) for x in rng.integers(0, 2**64, 4, dtype=np.uint64)]
        k = [int(x) for x in rng.integers(0, 2**64, 2, dtype=np.uint64)]
        counter = sum(w << (64 * j) for j, w in enumerate(c))
        expected = np.random.Philox(key=k[0] | (k[1] << 64), counter=(counter - 1) % 2**256).random_raw(4)
        assert np.array_equal(philox.philox4x64(c, k), expected)


def test_the_engines_blocks_equal_the_specification_draw_for_draw():
    key = SeedTree(5).child("stream").key()
    lo, hi = philox.split_key(key)
    for group, purpose, units in ((1, philox.WAKE, 8), (0 + 256 * 3, philox.SLEEP, 16), (2, philox.SLEEP, 1)):
        fast = philox.uniforms(key, 123_456, 40, units, group, purpose)
        steps, unit = np.arange(123_456, 123_496)[:, None], np.arange(units)[None, :]
        assert np.array_equal(fast, philox.uniform(lo, hi, steps, unit, group, purpose))


def test_the_numpy_targets_tables_equal_the_specification():
    """Brian2's numpy target asks for one step of a layer (or synapse set) at a
    time; those calls are answered from tables of the coming steps, and a
    large population's (above TABLE_MAX_UNITS elements) by the array rounds."""
    rng = np.random.default_rng(3)
    sizes = [(int(rng.integers(1, 30)), int(rng.integers(1, 20))) for _ in range(12)]
    for N, n in sizes + [(philox.TABLE_MAX_UNITS // 2 + 1, 2)]:
        keys = [int(k) for k in rng.integers(0, 2**63, N)]
        halves = np.array([philox.split_key(k) for k in keys])
        lo, hi, unit = np.repeat(halves[:, 0], n), np.repeat(halves[:, 1], n), np.tile(np.arange(n), N)
        group, purpose = int(rng.integers(-300, 3000)), int(rng.integers(1, 5))  # negative: C reads it mod 2**32
        for step in [int(rng.integers(0, 10**9))] * 2 + [int(rng.integers(0, 10**9)) + k for k in (0, 255, 256, 3)]:
            tabled = philox.uniform(lo, hi, np.full(N * n, float(step)), unit, group, purpose)
            counter = np.stack(np.broadcast_arrays(step, unit >> 2, group % 2**32, purpose), axis=-1)
            key = np.zeros((N * n, 2), dtype=np.uint64)
            key[:, 0] = np.array(keys, dtype=np.uint64).repeat(n)
            w = philox.philox4x64(counter.astype(np.uint64), key)
            assert np.array_equal(tabled, philox.to_unit_interval(w[np.arange(N * n), unit & 3]))


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_the_c_implementation_equals_the_specification(tmp_path):
    src = tmp_path / "philox.c"
    src.write_text(
        philox.C_CODE
        + "\ndouble hm_u(int32_t a, int32_t b, double s, int32_t u, int32_t g, int32_t p)"
        + " { return hm_philox_uniform(a, b, s, u, g, p); }\n"
    )
    lib = tmp_path / "philox.so"
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", str(src), "-o", str(lib)], check=True)
    f = ctypes.CDLL(str(lib)).hm_u
    f.restype = ctypes.c_double
    f.argtypes = [ctypes.c_int32, ctypes.c_int32, ctypes.c_double] + [ctypes.c_int32] * 3
    rng = np.random.default_rng(1)
    for _ in range(200):
        key = int(rng.integers(0, 2**64, dtype=np.uint64))
        lo, hi = philox.split_key(key)
        step, unit = int(rng.integers(0, 2**40)), int(rng.integers(0, 5000))
        group = int(rng.integers(-3000, 3000))  # negative: the spiking circuit outside a window
        purpose = int(rng.integers(1, 3))
        assert f(int(lo), int(hi), float(step), unit, group, purpose) == philox.uniform(
            lo, hi, step, unit, group, purpose
        )


def ks_statistic(u):
    u = np.sort(u)
    n = len(u)
    return max(np.max(np.arange(1, n + 1) / n - u), np.max(u - np.arange(n) / n))


def test_a_million_draws_are_uniform():
    u = philox.uniforms(SeedTree(0).child("stream").key(), 0, 125_000, 8, 1, philox.WAKE).ravel()
    assert len(u) == 10**6 and np.all((u >= 0) & (u < 1))
    # Kolmogorov-Smirnov: the 0.1 % critical value is 1.95 / sqrt(n)
    assert ks_statistic(u) < 1.95 / np.sqrt(len(u))


def test_neighbouring_units_steps_copies_and_machines_are_uncorrelated():
    n = 100_000
    a, b = (SeedTree(s).child("stream").key() for s in (7, 8))
    base = philox.uniforms(a, 0, n + 1, 5, 1, philox.WAKE)
    pairs = {
        "units": (base[:n, 0], base[:n, 1]),
        "blocks": (base[:n, 3], base[:n, 4]),  # across a Philox block boundary
        "steps": (base[:n, 0], base[1:, 0]),
        "copies": (base[:n, 0], philox.uniforms(a, 0, n, 1, 1 + 256, philox.WAKE)[:, 0]),
        "phases": (base[:n, 0], philox.uniforms(a, 0, n, 1, 1, philox.SLEEP)[:, 0]),
        "machines": (base[:n, 0], philox.uniforms(b, 0, n, 1, 1, philox.WAKE)[:, 0]),
    }
    for what, (x, y) in pairs.items():
        r = np.corrcoef(x, y)[0, 1]
        assert abs(r) < 5 / np.sqrt(n), what  # 5 standard errors


def test_bad_keys_are_refused_by_value():
    with pytest.raises(ValueError, match="64-bit unsigned integer, not -1"):
        philox.split_key(-1)
    with pytest.raises(ValueError, match="not 18446744073709551616"):
        philox.split_key(2**64)
