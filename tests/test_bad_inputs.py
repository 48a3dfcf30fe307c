"""Bad input to every command, as a hostile user gives it: one table per
command (``tests/bad_inputs/``, a module per command).  Every case runs the
command line in a subprocess in a folder that holds its input files, and
checks the whole promise: exit status 2, one line on stderr naming the
option or file and the value, no traceback, every input byte-identical
afterwards and no new file left behind.  Its classes are those of issues 13
and 22 (outputs over inputs, outputs checked late, data names, sizes and
numbers, model, history and text files, results read back, empty values,
unreadable files).
"""

import json
import os
import re

import numpy as np
import pytest
from bad_inputs import TABLES
from bad_inputs.writers import model_file
from helpers import run_cli, snapshot

from hm_neuro.cli.main import COMMANDS


def test_every_command_has_a_table():
    assert sorted(TABLES) == sorted(COMMANDS)


@pytest.mark.parametrize(
    "case", [pytest.param(case, id=f"{command}-{case[0]}") for command, table in TABLES.items() for case in table]
)
def test_bad_input_one_line_exit_2_inputs_untouched(tmp_path, case):
    _, setup, args, pattern, *extra = case
    if setup is not None:
        setup(tmp_path)
    env = {**os.environ, **(extra[0] if extra else {})}
    before = snapshot(tmp_path)
    r = run_cli(*args, cwd=tmp_path, env=env)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert len(lines) == 1, r.stderr
    assert re.search(pattern, lines[0]), lines[0]
    assert snapshot(tmp_path) == before  # inputs byte-identical, nothing new
    assert not (tmp_path.parent / "x").exists()


def test_evaluate_json_is_valid_for_a_saturated_model(tmp_path):
    """A model whose units are saturated (biases of 700: probabilities of
    exactly 0 and 1 in float64) still prints valid JSON whose every number
    is finite (an undefined one would be null, never NaN or Infinity)."""
    model_file(tmp_path, generative_biases_0=np.full(16, 700.0))
    r = run_cli("evaluate", "--model", "m.npz", "--json", "--samples", "5", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))  # NaN, Infinity
    assert out["kl_data_model_bits"] > 1000  # the model puts almost no mass on the data
    assert all(v is None or not isinstance(v, float) or np.isfinite(v) for v in out.values())
