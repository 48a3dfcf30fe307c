"""Counter-based uniform numbers: Philox4x64-10 (Salmon, Moraes, Dror & Shaw
2011, "Parallel random numbers: as easy as 1, 2, 3"), written once per target.

A uniform number is a pure function of a key and a counter, with no state to
share, so a machine's noise depends on its own seed alone -- whatever engine,
device, population or chunk length it is trained with.  Every draw of a
machine has its own counter::

    counter = (step, unit // 4, group, purpose)    key = (machine key, 0)
    u = (word[unit % 4] >> 11) * 2**-53            (53 bits, in [0, 1))

=============  ==============================================================
``step``       the example: its index since the start of training
``unit``       the unit's index within its machine's layer
``group``      ``layer + 256 * copy``: copy c is the rule's sample or fantasy
               c, or, in the spiking circuit, step c of the unit's window
``purpose``    :data:`WAKE` (recognition sample, eq. 1) or :data:`SLEEP`
               (fantasy); :data:`ROUND_WAKE` / :data:`ROUND_SLEEP`: the
               stochastic rounding of a finite-precision update
               (:mod:`hm_neuro.model.precision`; ``unit`` is then the
               parameter's index in its set, ``group`` the set's)
=============  ==============================================================

So a spiking unit at one clock step per window draws exactly the binary
unit's numbers (the bridge), and every engine draws the same numbers for
the same machine.  The four 64-bit words of one Philox block serve four neighbouring units.
The machine key is a 64-bit integer (:meth:`hm_neuro.seeds.SeedTree.key`).
Implementations: :func:`philox4x64` (the specification, vectorised NumPy
with unsigned 64-bit arithmetic), :func:`uniforms` (NumPy's own C Philox, as
sequential blocks: the NumPy engines), and :data:`C_CODE` (C with a 128-bit
product, for Brian2's C++ and Cython targets).  The tests hold all three to
each other and to the published known-answer vector.
"""

from __future__ import annotations

import numpy as np

#: purposes of a draw (the counter's last word); numbers are part of the stream: never reuse one
WAKE, SLEEP = 1, 2
#: ... the stochastic rounding of an update made in the wake or the sleep phase (hm_neuro.model.precision)
ROUND_WAKE, ROUND_SLEEP = 3, 4
#: the multipliers and Weyl key increments of Philox4x64 (Salmon et al. 2011, Table 2)
M0, M1 = np.uint64(0xD2E7470EE14C6C93), np.uint64(0xCA5A826395121157)
W0, W1 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBB67AE8584CAA73B)
ROUNDS = 10
_LOW32 = np.uint64(0xFFFFFFFF)
_32 = np.uint64(32)


def _halves(m: np.uint64):
    return m & _LOW32, m >> _32


#: the multipliers' 32-bit halves (low, high)
_M0, _M1 = _halves(M0), _halves(M1)


def _mulhilo(a: np.ndarray, m: np.uint64, halves):
    """(high, low) 64-bit halves of the 128-bit products a * m (uint64 arrays)."""
    a_lo, a_hi = a & _LOW32, a >> _32
    m_lo, m_hi = halves
    lh, hl = a_lo * m_hi, a_hi * m_lo
    cross = ((a_lo * m_lo) >> _32) + (lh & _LOW32) + hl  # < 2**64: no carry is lost
    return a_hi * m_hi + (lh >> _32) + (cross >> _32), a * m


def philox4x64(counter, key) -> np.ndarray:
    """The Philox4x64-10 block of every counter: ``counter`` (..., 4) and
    ``key`` (..., 2) as unsigned 64-bit words -> (..., 4) words."""
    c = np.asarray(counter, dtype=np.uint64)
    k = np.asarray(key, dtype=np.uint64)
    c0, c1, c2, c3 = (c[..., j] for j in range(4))
    k0, k1 = k[..., 0], k[..., 1]
    with np.errstate(over="ignore"):
        for r in range(ROUNDS):
            if r:
                k0, k1 = k0 + W0, k1 + W1
            hi0, lo0 = _mulhilo(c0, M0, _M0)
            hi1, lo1 = _mulhilo(c2, M1, _M1)
            c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    return np.stack(np.broadcast_arrays(c0, c1, c2, c3), axis=-1)


def to_unit_interval(words) -> np.ndarray:
    """53-bit uniform numbers in [0, 1) from 64-bit words (NumPy's ``random()`` rule)."""
    return (np.asarray(words, dtype=np.uint64) >> np.uint64(11)).astype(float) * 2.0**-53


def split_key(key: int):
    """A 64-bit machine key as (low, high) signed 32-bit integers (Brian2's integer variables)."""
    key = int(key)
    if not 0 <= key < 2**64:
        raise ValueError(f"a stream key is a 64-bit unsigned integer, not {key}")
    lo, hi = key & 0xFFFFFFFF, key >> 32
    return np.int32(np.uint32(lo).view(np.int32)), np.int32(np.uint32(hi).view(np.int32))


def uniform(key_lo, key_hi, step, unit, group, purpose) -> np.ndarray:
    """The specification, element by element (broadcast): the uniform number
    of a draw (module docstring).  Keys as the signed 32-bit halves of
    :func:`split_key`; Brian2's numpy target calls this -- one step of many
    units at a time, answered from a table of the coming steps
    (:func:`_from_table`)."""
    tabled = _from_table(key_lo, key_hi, step, unit, group, purpose)
    if tabled is not None:
        return tabled
    one = _one_machine(key_lo, key_hi, step, unit, group, purpose)
    if one is not None:
        return one
    lo = np.asarray(key_lo).astype(np.int64).astype(np.uint64) & _LOW32
    hi = np.asarray(key_hi).astype(np.int64).astype(np.uint64) & _LOW32

    def word32(x):  # an int32 argument as C reads it: modulo 2**32
        return np.asarray(x).astype(np.int64).astype(np.uint64) & _LOW32

    unit = word32(unit)
    parts = np.broadcast_arrays(
        np.asarray(step).astype(np.uint64), unit >> np.uint64(2), word32(group), word32(purpose)
    )
    counter = np.stack(parts, axis=-1)
    key = np.stack(np.broadcast_arrays((hi << _32) | lo, np.uint64(0)), axis=-1)
    words = philox4x64(counter, key)
    which = np.broadcast_to((unit & np.uint64(3)).astype(np.intp), words.shape[:-1])
    word = np.take_along_axis(words, which[..., None], axis=-1)[..., 0]
    return to_unit_interval(word)


_MASK = 2**64 - 1


def _block(c0: int, c1: int, c2: int, c3: int, k0: int, k1: int) -> tuple:
    """One Philox4x64-10 block in Python integers (the same rounds as :func:`philox4x64`)."""
    for r in range(ROUNDS):
        if r:
            k0, k1 = (k0 + 0x9E3779B97F4A7C15) & _MASK, (k1 + 0xBB67AE8584CAA73B) & _MASK
        p0, p1 = 0xD2E7470EE14C6C93 * c0, 0xCA5A826395121157 * c2
        c0, c1, c2, c3 = (p1 >> 64) ^ c1 ^ k0, p1 & _MASK, (p0 >> 64) ^ c3 ^ k1, p0 & _MASK
    return c0, c1, c2, c3


def _one_machine(key_lo, key_hi, step, unit, group, purpose):
    """:func:`uniform` for a call of Brian2's numpy target with one key and
    one counter for a few units (a single machine's layer): Python integers,
    one block per four units, ~10x faster than the array rounds there; None
    for any other call."""
    unit = np.asarray(unit)
    if unit.size > 64:
        return None
    args = [np.asarray(a) for a in (key_lo, key_hi, step, group, purpose)]
    if any(a.size > 1 and (a.min() != a.max()) for a in args):
        return None
    lo, hi, c0, c2, c3 = (int(a.flat[0]) if a.size else 0 for a in args)
    key = ((hi & 0xFFFFFFFF) << 32) | (lo & 0xFFFFFFFF)
    c2, c3 = c2 & 0xFFFFFFFF, c3 & 0xFFFFFFFF  # int32 arguments as C reads them
    units = [int(u) & 0xFFFFFFFF for u in unit.flat]
    blocks = {b: _block(c0, b, c2, c3, key, 0) for b in {u >> 2 for u in units}}
    words = np.array([blocks[u >> 2][u & 3] for u in units], dtype=np.uint64)
    return to_unit_interval(words).reshape(np.broadcast_shapes(unit.shape, *(a.shape for a in args)))


#: steps of a key's first table of :func:`_from_table`, the most steps of
#: one (each table of a key twice its previous one's: a run of 20 examples
#: makes 16 + 32 steps, not 256), and the most tables kept
TABLE_FIRST_STEPS = 16
TABLE_STEPS = 256
MAX_TABLES = 512
#: the most elements (machines x units) a table is made for: a table costs a
#: NumPy generator per key and block of four units, so a large population
#: (40,000 copies of a machine, one example each) is faster by the array
#: rounds of :func:`philox4x64` one step at a time
TABLE_MAX_UNITS = 4096
_TABLES: dict = {}


def _uniform_value(a):
    """The one value of an argument that is the same for every element, or None."""
    a = np.asarray(a)
    if a.size == 0:
        return None
    first = a.flat[0]
    return first if a.size == 1 or np.all(a == first) else None


def _from_table(key_lo, key_hi, step, unit, group, purpose):
    """:func:`uniform` of a call with one step, group and purpose (Brian2's
    numpy target: one clock step of a layer or a synapse set), from a table
    of :data:`TABLE_STEPS` steps made with NumPy's C Philox per key and block
    of four units -- the same numbers (tests/test_philox.py), ~100x fewer
    NumPy operations per step; None for any other call."""
    s, g, p = (_uniform_value(a) for a in (step, group, purpose))
    if s is None or g is None or p is None:
        return None
    lo, hi, unit = np.broadcast_arrays(np.asarray(key_lo), np.asarray(key_hi), np.asarray(unit))
    if unit.size == 0 or unit.size > TABLE_MAX_UNITS:
        return None
    s, g, p = int(s), int(g) & 0xFFFFFFFF, int(p) & 0xFFFFFFFF
    name = (lo.tobytes(), hi.tobytes(), unit.tobytes(), unit.shape, g, p)
    entry = _TABLES.get(name)
    if entry is None or not entry[0] <= s < entry[0] + len(entry[1]):
        if len(_TABLES) >= MAX_TABLES:
            _TABLES.clear()
        steps = TABLE_FIRST_STEPS if entry is None else min(TABLE_STEPS, 2 * len(entry[1]))
        entry = _TABLES[name] = (s, _table(lo, hi, unit, s, g, p, steps))
    return entry[1][s - entry[0]]


def _table(lo, hi, unit, first: int, group: int, purpose: int, steps: int = TABLE_STEPS) -> np.ndarray:
    """(steps, *unit.shape) uniform numbers of steps ``first ..`` for every element:
    NumPy's C Philox, one generator whose state is set for each key and block."""
    keys = ((hi.astype(np.int64) & 0xFFFFFFFF) << 32) | (lo.astype(np.int64) & 0xFFFFFFFF)
    keys = keys.astype(np.uint64).ravel()
    units = (unit.astype(np.int64) & 0xFFFFFFFF).ravel()
    blocks, which = np.unique(np.stack([keys, (units >> 2).astype(np.uint64)], axis=1), axis=0, return_inverse=True)
    words = np.empty((steps, len(blocks), 4), dtype=np.uint64)
    bits = np.random.Philox(key=0)
    for b, (key, block) in enumerate(blocks):
        words[:, b, :] = _block_words(bits, int(key), first, int(block), group, purpose, steps)
    out = words[:, which.ravel(), units & 3]
    return to_unit_interval(out).reshape((steps,) + unit.shape)


def _block_words(bits, key: int, first: int, block: int, group: int, purpose: int, steps: int) -> np.ndarray:
    """The (steps, 4) words of a block of four units from step ``first``, from
    NumPy's C Philox ``bits`` set to the block's counter (setting one
    generator's state costs half of making a new one)."""
    start = first + (block << 64) + (group << 128) + (purpose << 192)
    bits.state = _philox_state(key, (start - 1) % 2**256)  # it counts up before each block
    return bits.random_raw(4 * steps).reshape(steps, 4)


def _philox_state(key: int, counter: int) -> dict:
    """NumPy's ``Philox`` state at ``counter`` under ``key`` (what
    ``np.random.Philox(key=key, counter=counter)`` starts from)."""
    words = [(counter >> (64 * j)) & _MASK for j in range(4)]
    return {
        "bit_generator": "Philox",
        "state": {"counter": np.array(words, dtype=np.uint64), "key": np.array([key, 0], dtype=np.uint64)},
        "buffer": np.zeros(4, dtype=np.uint64),
        "buffer_pos": 4,
        "has_uint32": 0,
        "uinteger": 0,
    }


def uniforms(key: int, offset: int, steps: int, units: int, group: int, purpose: int) -> np.ndarray:
    """The ``(steps, units)`` uniform numbers of ``steps`` steps from ``offset``
    for one group and purpose of one machine (the NumPy engines),
    from NumPy's C Philox4x64-10 run over consecutive counters, block of
    four units by block (:func:`_block_words`)."""
    bits = np.random.Philox(key=0)
    blocks = [_block_words(bits, int(key), offset, b, group, purpose, steps) for b in range(-(-units // 4))]
    return to_unit_interval(np.concatenate(blocks, axis=1)[:, :units] if blocks else np.zeros((steps, 0)))


#: the C implementation (Brian2's C++ and Cython targets): the same
#: function as :func:`uniform`, with the 128-bit product of GCC and Clang
C_CODE = """
#ifndef HM_PHILOX_UNIFORM
#define HM_PHILOX_UNIFORM
#include <stdint.h>
static inline uint64_t hm_mulhilo64(uint64_t a, uint64_t b, uint64_t *hi)
{
    __uint128_t p = (__uint128_t)a * b;
    *hi = (uint64_t)(p >> 64);
    return (uint64_t)p;
}
static inline double hm_philox_uniform(int32_t key_lo, int32_t key_hi, double step,
                                       int32_t unit, int32_t group, int32_t purpose)
{
    uint64_t c0 = (uint64_t)step, c1 = (uint64_t)(uint32_t)unit >> 2;
    uint64_t c2 = (uint64_t)(uint32_t)group, c3 = (uint64_t)(uint32_t)purpose;
    uint64_t k0 = ((uint64_t)(uint32_t)key_hi << 32) | (uint64_t)(uint32_t)key_lo, k1 = 0;
    for (int r = 0; r < 10; r++) {
        if (r) { k0 += 0x9E3779B97F4A7C15ULL; k1 += 0xBB67AE8584CAA73BULL; }
        uint64_t hi0, hi1;
        uint64_t lo0 = hm_mulhilo64(0xD2E7470EE14C6C93ULL, c0, &hi0);
        uint64_t lo1 = hm_mulhilo64(0xCA5A826395121157ULL, c2, &hi1);
        uint64_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
    }
    uint64_t w;
    switch ((uint32_t)unit & 3u) {
        case 0: w = c0; break;
        case 1: w = c1; break;
        case 2: w = c2; break;
        default: w = c3;
    }
    return (double)(w >> 11) * (1.0 / 9007199254740992.0);
}
#endif
"""
