"""The mutation script's list (tests/mutations/run.py) stays applicable: each
bug's code occurs exactly once in the library and each test it names exists,
so a refactor cannot silently turn a listed bug into one the script refuses."""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "mutations"))
from run import MUTATIONS  # noqa: E402


@pytest.mark.parametrize("m", MUTATIONS, ids=lambda m: m.name[:40])
def test_each_listed_bug_applies_and_names_tests_that_exist(m):
    assert (ROOT / "hm_neuro" / m.path).read_text(encoding="utf-8").count(m.old) == 1
    assert m.new != m.old
    for node in m.tests:
        file, _, name = node.partition("::")
        source = (ROOT / file).read_text(encoding="utf-8")
        functions = {f.name for f in ast.walk(ast.parse(source)) if isinstance(f, ast.FunctionDef)}
        assert not name or name in functions, node
