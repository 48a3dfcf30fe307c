"""Every code block of the README and the docs runs as it stands: Python
blocks are executed (each in a namespace of its own, in an empty folder), and every
``hm-neuro`` command in a shell block is parsed by the command line's own
parser (the long ones -- the main job -- are run by CI's other tests or by
hand, not here)."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from hm_neuro.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.M | re.S)


def blocks(language) -> list:
    return [
        pytest.param(m.group(2), id=f"{page.relative_to(ROOT)}#{i}")
        for page in PAGES
        for i, m in enumerate(FENCE.finditer(page.read_text(encoding="utf-8")))
        if m.group(1) == language
    ]


def commands() -> list:
    """Every ``hm-neuro ...`` command of the shell blocks, as its arguments."""
    out = []
    for p in blocks("bash"):
        for line in p.values[0].replace("\\\n", " ").splitlines():
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            words = []
            for token in list(lexer) + [";"]:
                if token in ("&&", "||", ";", "|", "&"):
                    if words and words[0] == "hm-neuro":
                        out.append(pytest.param(words[1:], id=f"{p.id}: {' '.join(words)[:60]}"))
                    words = []
                else:
                    words.append(token)
    return out


def test_the_docs_have_code_to_check():
    assert len(list(blocks("python"))) >= 5
    assert len(list(commands())) >= 10


@pytest.mark.parametrize("code", blocks("python"))
def test_python_block_runs(code, tmp_path, monkeypatch):
    """In this process, in a namespace of its own (its imports its own) and an
    empty folder: a fresh interpreter per block cost ~1.5 s of imports."""
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "<documentation block>", "exec"), {"__name__": "__main__"})


@pytest.mark.parametrize("argv", commands())
def test_shell_command_parses(argv, capsys):
    parser = build_parser()
    try:
        parser.parse_args(argv)
    except SystemExit as e:  # --help exits 0; a bad option exits 2 with its message
        assert e.code == 0, capsys.readouterr().err


def test_the_documentation_builds_without_a_warning_and_runs_its_gallery(tmp_path):
    """sphinx-build -W: every page, the API reference from the docstrings, and
    the gallery's scripts executed (each must draw its figure)."""
    out = tmp_path / "html"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            str(ROOT / "docs"),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    assert r.returncode == 0, r.stderr[-5000:]
    for page in (
        "index.html",
        "user-guide/python-api.html",
        "api/index.html",
        "auto_examples/index.html",
        "auto_examples/plot_pipeline_digits.html",
        "results/bars.html",
        "changelog.html",
    ):
        assert (out / page).is_file(), page
    assert "test error" in (out / "auto_examples/plot_pipeline_digits.html").read_text()  # the script ran
    assert len(list((out / "_images").glob("sphx_glr_plot_*.png"))) >= 3


def test_ruff_finds_nothing_to_lint_or_format():
    for args in (["check", "--no-cache"], ["format", "--check", "--no-cache"]):
        r = subprocess.run(
            [sys.executable, "-m", "ruff", *args, "hm_neuro", "tests", "benchmarks", "experiments", "docs"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, r.stdout + r.stderr
