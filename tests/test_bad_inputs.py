"""Bad input to every command, as a hostile user gives it: one table per
command (``tests/bad_inputs/``, a module per command).  Every case runs the
command line's ``main()`` in a folder that holds its input files (one case
per command again in a subprocess, as a user runs it), and checks the
whole promise: exit status 2, one line on stderr naming the option or
file and the value, no traceback, every input byte-identical afterwards
and no new file left behind.  Its classes are those of issues 13
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
from helpers import run_cli, run_cli_here, snapshot

from hm_neuro.cli.main import COMMANDS


def test_every_command_has_a_table():
    assert sorted(TABLES) == sorted(COMMANDS)


CASES = [pytest.param(case, id=f"{command}-{case[0]}") for command, table in TABLES.items() for case in table]


def check_refusal(r, pattern, folder, before):
    """The whole promise: exit 2, one line matching ``pattern``, no traceback,
    the inputs byte-identical and nothing new (there or beside it)."""
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert len(lines) == 1, r.stderr
    assert re.search(pattern, lines[0]), lines[0]
    assert snapshot(folder) == before  # inputs byte-identical, nothing new
    assert not (folder.parent / "x").exists()


@pytest.mark.parametrize("case", CASES)
def test_bad_input_one_line_exit_2_inputs_untouched(tmp_path, case, monkeypatch, capsys):
    """Every case through the command line's ``main()`` in this process."""
    _, setup, args, pattern, *extra = case
    if setup is not None:
        setup(tmp_path)
    before = snapshot(tmp_path)
    r = run_cli_here(*args, cwd=tmp_path, env=extra[0] if extra else None, monkeypatch=monkeypatch, capsys=capsys)
    check_refusal(r, pattern, tmp_path, before)


@pytest.mark.parametrize(
    "case", [pytest.param(table[0], id=f"{command}-{table[0][0]}") for command, table in TABLES.items()]
)
def test_bad_input_as_a_user_runs_it(tmp_path, case):
    """A case of every command as a user meets it: ``python -m hm_neuro.cli``
    in a subprocess (the interpreter's exit status, its whole stderr)."""
    _, setup, args, pattern, *extra = case
    if setup is not None:
        setup(tmp_path)
    before = snapshot(tmp_path)
    r = run_cli(*args, cwd=tmp_path, env={**os.environ, **(extra[0] if extra else {})})
    check_refusal(r, pattern, tmp_path, before)


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
