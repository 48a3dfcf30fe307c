"""Sweep specifications: grids of trainings (seeds x circuit settings).

A sweep is a grid of settings trained for every seed (and restart); this
module parses and checks it and turns it into the tasks of
:mod:`hm_neuro.runs.runner`, which trains them (as populations, on Dask) and
tabulates the results.

Sweep files (TOML)::

    circuit = "bars"          # shipped name or TOML file
    data = "bars"             # as for `hm-neuro train --data`
    examples = 2e6
    seeds = 10                # seeds 0..9 (or a list: [3, 7])
    [grid]                    # every combination is trained for every seed
    p_vertical = [0.5, 0.6667]
    "learning_rates.generative_weights" = [[0.2, 0.001], [0.1, 0.001]]
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import json
import logging
import math
from pathlib import Path

from ..checks import Number, check
from ..engines import MAX_CHUNK
from ..errors import HMError, bad
from ..files.model_io import atomic_path, save_json
from ..model import PARAMETER_SETS, load_circuit
from ..resources import read_toml
from ..seeds import MAX_SEED
from ..training import plan_chunks
from .runner import Task, stream_for_task

logger = logging.getLogger(__name__)

#: grid axes a sweep file or ``--grid`` may vary
GRID_KEYS = ("circuit", "data", "examples", "p_vertical") + tuple(f"learning_rates.{k}" for k in PARAMETER_SETS)
#: columns of the results table, in order (grid axes are inserted after 'restart')
COLUMNS = (
    "task",
    "seed",
    "restart",
    "run_seed",
    "status",
    "kl_data_model_bits",
    "kl_q_p_bits",
    "free_energy_bits",
    "training_free_energy_bits",
    "examples",
    "seconds",
    "compile_seconds",
    "device",
    "worker",
    "error",
)
#: the most trainings one sweep may ask for
MAX_TASKS = 100_000


# -------------------------------------------------------------- sweep specs


@dataclasses.dataclass
class SweepSpec:
    circuit: str = "bars"
    data: str = "bars"
    examples: int = 2_000_000
    seeds: tuple = (0,)
    restarts: int = 1
    grid: dict = dataclasses.field(default_factory=dict)
    p_vertical: float = 2 / 3
    engine: str = "brian2"
    device: str | None = None

    def validate(self):
        if (
            isinstance(self.examples, bool)
            or not isinstance(self.examples, (int, float))
            or not (math.isfinite(self.examples) and float(self.examples).is_integer() and 1 <= self.examples <= 1e12)
        ):
            raise bad("examples", "must be a whole number in 1..1e12", self.examples)
        self.examples = int(self.examples)
        if not self.seeds:
            raise bad("seeds", "at least one seed is needed", list(self.seeds))
        if isinstance(self.restarts, bool) or not isinstance(self.restarts, int) or self.restarts < 1:
            raise bad("restarts", "must be an integer >= 1", self.restarts)
        self.p_vertical = check("p_vertical", self.p_vertical, Number(0.0, 1.0))
        for key in ("circuit", "data", "engine"):
            if not isinstance(getattr(self, key), str) or not getattr(self, key).strip():
                raise bad(key, "must be a non-empty name", getattr(self, key))
        n = len(self.seeds) * self.restarts * math.prod(len(v) for v in self.grid.values() if isinstance(v, list))
        if n > MAX_TASKS:
            raise bad("seeds", f"the sweep asks for {n} trainings; at most {MAX_TASKS} in one sweep", len(self.seeds))
        for key, values in self.grid.items():
            if key not in GRID_KEYS:
                raise bad(f"grid: {key}", f"unknown axis; choose from {list(GRID_KEYS)}")
            if not isinstance(values, list) or not values:
                raise bad(f"grid: {key}", "must be a non-empty list of values", values)
        return self

    def points(self):
        """Every combination of the grid axes, as tuples of (axis, value)."""
        keys = list(self.grid)
        for combo in itertools.product(*(self.grid[k] for k in keys)):
            yield tuple(zip(keys, combo))

    def tasks(self, record_every: int = 0, keep_model: bool = False):
        """The tasks of this sweep (every grid point x seed x restart); checks
        every circuit and data source here, before anything runs."""
        out = []
        for point in self.points():
            try:
                out += self._point_tasks(point, len(out), record_every, keep_model)
            except HMError as e:  # name the grid point, not an option the user may never have given
                raise HMError(
                    f"grid point {', '.join(f'{k}={_cell(v)}' for k, v in point)}: {e}" if point else str(e)
                ) from None
        return out

    def _point_tasks(self, point, first: int, record_every: int, keep_model: bool) -> list:
        out = []
        p = dict(point)
        circuit = load_circuit(p.get("circuit", self.circuit))
        rates = {k.split(".", 1)[1]: v for k, v in p.items() if k.startswith("learning_rates.")}
        if rates:
            circuit = circuit.replace(learning_rates=rates)
        examples = p.get("examples", self.examples)
        if (
            isinstance(examples, bool)
            or not isinstance(examples, (int, float))
            or not (math.isfinite(examples) and float(examples).is_integer() and 1 <= examples <= 1e12)
        ):
            raise bad("grid: examples", "must be whole numbers in 1..1e12", examples)
        examples = int(examples)
        data = p.get("data", self.data)
        pv = float(p.get("p_vertical", self.p_vertical))
        task0 = Task(0, circuit.to_dict(), data, examples, 0, p_vertical=pv)
        stream = stream_for_task(task0, circuit)  # raises on a bad data spec or shape
        if stream.n_input != circuit.n_input:
            raise bad(
                "data",
                f"rows have {stream.n_input} values but circuit '{circuit.name}' has {circuit.n_input} inputs",
                data,
            )
        for s in self.seeds:
            for r in range(self.restarts):
                out.append(
                    Task(
                        first + len(out),
                        circuit.to_dict(),
                        data,
                        examples,
                        int(s),
                        r,
                        tuple((k, _cell(v)) for k, v in point),
                        pv,
                        self.engine,
                        self.device,
                        plan_chunks(examples, MAX_CHUNK),
                        record_every,
                        keep_model,
                    )
                )
        return out


def _cell(v):
    """A grid value as it appears in the table (lists as text)."""
    return json.dumps(v) if isinstance(v, (list, tuple)) else v


def parse_seeds(value) -> tuple:
    """``10`` -> seeds 0..9; ``[3, 7]`` or ``"3,7"`` -> those seeds; ``"5:10"`` -> 5..9."""
    if isinstance(value, bool):
        raise bad("seeds", "must be a count, a list or a range A:B", value)
    if isinstance(value, int):
        if not 1 <= value <= MAX_TASKS:
            raise bad("seeds", f"a count must be in 1..{MAX_TASKS}", value)
        return tuple(range(value))
    if isinstance(value, list):
        if not value or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED for s in value):
            raise bad("seeds", f"must be a non-empty list of integers in 0..{MAX_SEED}", value)
        return tuple(value)
    text = str(value).strip()
    try:
        if ":" in text:
            a, b = (int(x) for x in text.split(":"))
            if not 0 <= a < b <= MAX_SEED or b - a > MAX_TASKS:
                raise ValueError
            return tuple(range(a, b))
        if "," in text:
            return parse_seeds([int(x) for x in text.split(",")])
        return parse_seeds(int(text))
    except ValueError:
        raise bad(
            "seeds", f"must be a count (10), a list (3,7) or a range (5:10) of at most {MAX_TASKS} seeds", value
        ) from None


def parse_grid_option(items) -> dict:
    """``["p_vertical=0.5,0.6667", "learning_rates.generative_weights=[0.2,0.001];[0.1,0.001]"]``."""
    grid = {}
    for item in items or ():
        key, sep, values = item.partition("=")
        if not sep or not values:
            raise bad("grid", "each axis is KEY=V1,V2 (lists separated by ;)", item)
        key = key.strip()
        parts = values.split(";") if key.startswith("learning_rates.") else values.split(",")
        try:
            grid[key] = [json.loads(v) for v in parts]
        except json.JSONDecodeError:
            grid[key] = [v.strip() for v in parts]  # text values such as circuit or data names
    return grid


def load_sweep(spec) -> SweepSpec:
    """A sweep TOML file or shipped name -> :class:`SweepSpec` (validated)."""
    d, source, _, _ = read_toml("sweeps", spec)
    known = {f.name for f in dataclasses.fields(SweepSpec)}
    for key in d:
        if key not in known:
            raise bad(f"{source}: {key}", f"unknown key; expected one of {sorted(known)}")
    if "grid" in d and not isinstance(d["grid"], dict):
        raise bad(f"{source}: grid", "must be a table")
    try:
        if "seeds" in d:
            d["seeds"] = parse_seeds(d["seeds"])
        spec = SweepSpec(**d).validate()
    except HMError as e:
        raise HMError(f"{source}: {e}") from None
    spec.source, spec.file_keys = source, set(d)
    return spec


def tasks_of(spec: SweepSpec, given=()) -> list:
    """``spec.tasks()``, every circuit and data source checked; an error
    about a value that came from the sweep file (not overridden by
    ``given``, the command line's options) names the file, not an option."""
    try:
        return spec.tasks()
    except HMError as e:
        key = str(e).partition(":")[0].strip()
        if key in getattr(spec, "file_keys", set()) - set(given):
            raise HMError(f"{spec.source}: {e}") from None
        raise


# --------------------------------------------------------------- the results


def table(results) -> list:
    """The rows of the results table, with every column present."""
    rows = [dict(r["row"]) for r in results]
    extra = []
    for r in rows:
        for k in r:
            if k not in COLUMNS and k not in extra:
                extra.append(k)
    cols = list(COLUMNS[:3]) + extra + list(COLUMNS[3:])
    return [{c: r.get(c, "") for c in cols} for r in rows]


def save_table(out_dir, name: str, rows: list, meta: dict):
    """``NAME.csv`` and ``NAME.json`` (rows plus the sweep's settings), atomically."""
    out_dir = Path(out_dir)
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    with atomic_path(out_dir / f"{name}.csv") as tmp:
        tmp.write_text(buf.getvalue())
    save_json(out_dir / f"{name}.json", {**meta, "rows": rows})


def summary_measure(rows) -> str:
    for key in ("kl_data_model_bits", "free_energy_bits", "training_free_energy_bits"):
        if any(r.get(key) not in ("", None) for r in rows):
            return key
    return "training_free_energy_bits"
