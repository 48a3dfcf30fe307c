"""The package's layers import one way, down: a subpackage imports only
those below it (function-level imports included), and what a machine *is*
(hm_neuro.model) loads neither Brian2 nor any engine."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import hm_neuro

ROOT = Path(hm_neuro.__file__).parent
#: bottom to top; a module may import its own unit and the units of lower layers
LAYERS = [
    {"errors", "checks", "seeds", "resources", "_version", "log", "philox", "interrupts"},
    {"model"},
    {"files"},
    {"measures"},
    {"engines"},
    {"training"},
    {"runs", "estimator"},
    {"plotting"},
    {"experiments"},
    {"check"},
    {"cli"},
]
LEVEL = {unit: i for i, units in enumerate(LAYERS) for unit in units}


def unit_of(module: str) -> str:
    return module.split(".")[1]


def imports(path: Path, module: str) -> set:
    """Every hm_neuro module that ``module`` (at ``path``) imports, anywhere in it."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else [])) if node.level else node.module
            names = [target] + [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out |= {n for n in names if n and n.startswith("hm_neuro.") and _is_module(n)}
    return {n for n in out if n != "hm_neuro"}


def _is_module(name: str) -> bool:
    path = ROOT.parent / name.replace(".", "/")
    return path.is_dir() or path.with_suffix(".py").is_file()


def modules():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        if len(parts) > 1:  # the top-level hm_neuro/__init__ is the public namespace, above every layer
            yield path, ".".join(parts)


def test_every_unit_has_a_layer():
    assert {unit_of(m) for _, m in modules()} <= set(LEVEL), "a new module needs a place in LAYERS"


@pytest.mark.parametrize("path,module", list(modules()), ids=[m for _, m in modules()])
def test_imports_run_one_way_down(path, module):
    own = unit_of(module)
    for target in imports(path, module):
        other = unit_of(target)
        assert other != "hm_neuro", f"{module} imports the public namespace"
        if other == own:
            continue
        assert LEVEL[other] < LEVEL[own] or (LEVEL[other] == LEVEL[own] == 0), (
            f"{module} (layer {LEVEL[own]}) imports {target} (layer {LEVEL[other]})"
        )


def test_the_layering_test_sees_function_level_imports(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from ..engines import make_engine\n")
    assert imports(src, "hm_neuro.model.m") == {"hm_neuro.engines"}


def test_the_model_loads_neither_brian2_nor_an_engine():
    code = (
        "import sys, hm_neuro.model; "
        "bad = sorted(m for m in sys.modules if m == 'brian2' or m.startswith(('brian2.', 'hm_neuro.engines'))); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_commands_that_simulate_nothing_do_not_import_brian2(tmp_path):
    code = (
        "import sys, hm_neuro, hm_neuro.cli, hm_neuro.measures, hm_neuro.files.model_io, hm_neuro.plotting; "
        "print('brian2' in sys.modules); sys.exit(1 if 'brian2' in sys.modules else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_public_name_resolves_and_none_loads_brian2():
    code = (
        "import sys, hm_neuro as hm; [getattr(hm, n) for n in hm.__all__ if n != 'plotting']; "
        "sys.exit(1 if 'brian2' in sys.modules else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_evaluate_animate_and_cache_run_without_importing_brian2(tmp_path):
    """The commands that simulate nothing never load Brian2 (start-up)."""
    from hm_neuro.files.model_io import save_history, save_model
    from hm_neuro.model import Parameters, load_circuit

    c = load_circuit("bars")
    p = Parameters.initial(c)
    save_model(tmp_path / "m.npz", p, c, seed=0, examples_seen=0)
    arrays = {k: np.stack([v.ravel()] * 2) for k, v in p.arrays().items()}
    save_history(tmp_path / "h.history.npz", [0, 10], arrays, c, seed=0)
    code = (
        "import sys\n"
        "from hm_neuro.cli import main\n"
        f"assert main(['evaluate', '--model', {str(tmp_path / 'm.npz')!r}, '--samples', '5']) == 0\n"
        f"assert main(['animate', {str(tmp_path / 'h.history.npz')!r}, '--frames', '2']) == 0\n"
        "assert main(['cache', 'info']) == 0\n"
        "sys.exit(3 if 'brian2' in sys.modules else 0)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "HM_NEURO_CACHE_DIR": str(tmp_path / "cache"), "MPLBACKEND": "Agg"},
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_no_engine_name_is_compared_as_a_string_outside_the_engines():
    """Callers ask an engine's declared capabilities (hm_neuro.engines.CAPABILITIES),
    never its name: adding an engine changes nothing outside hm_neuro/engines/."""
    import re

    pattern = re.compile(r"(\b(engine|engine_name)|\beng\.name)\s*((==|!=)\s*['\"]|(not )?in\s*[\(\[\{]\s*['\"])")
    found = [
        f"{path.relative_to(ROOT.parent)}:{i}"
        for path in ROOT.rglob("*.py")
        if "engines" not in path.relative_to(ROOT).parts
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []
