"""Data streams: where a training's examples come from, draw for draw reproducible."""

from __future__ import annotations

import numpy as np

from ..errors import bad
from ..files.data import bars_distribution, check_bars_args, resolve_data, sample_bars, validate_binary
from ..model import Circuit

#: a stream's table of distinct rows is handed to the circuit only up to this many rows
MAX_TABLE_ROWS = 2**16


class BarsStream:
    """Fresh bars images for every example (Hinton et al. 1995: 2e6 random examples)."""

    def __init__(self, p_vertical=2 / 3, p_bar=0.2, size=4):
        check_bars_args(size, p_vertical, p_bar)
        self.kw = dict(p_vertical=p_vertical, p_bar=p_bar, size=size)
        #: the exact numbers (a checkpoint compares these, not the rounded description)
        self.parameters = {"p_vertical": float(p_vertical), "p_bar": float(p_bar), "size": int(size)}
        self.description = f"bars(size={size}, p_vertical={p_vertical:.4g}, p_bar={p_bar:.4g})"
        self.n_input = size * size

    def take(self, n, rng):
        return sample_bars(n, rng, **self.kw)

    @property
    def distinct_rows(self) -> int:
        """How many distinct images the stream can draw (0: too many to tabulate)."""
        size = self.kw["size"]
        return len(bars_distribution(**self.kw)[0]) if 2 ** (size + 1) <= MAX_TABLE_ROWS else 0

    def get_state(self):
        return np.empty(0, dtype=np.int64)

    def set_state(self, state):
        pass


class SweepStream:
    """Sweeps through a fixed set of rows, each sweep in a fresh random order."""

    def __init__(self, rows, description="data"):
        self.rows = validate_binary(rows, source=description)
        self.description = description
        self.n_input = self.rows.shape[1]
        self._order = np.empty(0, dtype=int)

    @property
    def distinct_rows(self) -> int:
        """How many distinct rows the stream draws from (0: too many to tabulate)."""
        n = len(np.unique(self.rows, axis=0))
        return n if n <= MAX_TABLE_ROWS else 0

    def take(self, n, rng):
        while len(self._order) < n:
            self._order = np.concatenate([self._order, rng.permutation(len(self.rows))])
        idx, self._order = self._order[:n], self._order[n:]
        return self.rows[idx]

    def get_state(self):
        """The rest of the current sweep (the data generator holds the rest)."""
        return self._order.copy()

    def set_state(self, state):
        self._order = np.asarray(state, dtype=int).copy()


def stream_for(spec: str, circuit: Circuit, p_vertical: float = 2 / 3):
    """A data source named on the command line -> a stream for ``circuit``:
    ``bars`` (fresh samples, square input layers only), ``digits[:K]`` or a
    data file (sweeps)."""
    if spec == "bars":
        side = int(round(circuit.n_input**0.5))
        if side * side != circuit.n_input:
            raise bad("data", f"bars needs a square input layer; circuit '{circuit.name}' has {circuit.n_input} inputs")
        return BarsStream(p_vertical=p_vertical, size=side)
    rows, desc = resolve_data(spec, circuit.n_input)
    return SweepStream(rows, desc)
