"""Helpers the test files share (imported as ``from helpers import ...``)."""

import signal
import subprocess
import sys


def run_cli(*args, cwd=None, env=None, preexec_fn=None, timeout=600):
    """``python -m hm_neuro.cli ARGS`` in a subprocess: the command line as a
    user runs it (its exit status, one-line errors, the files it leaves)."""
    return subprocess.run(
        [sys.executable, "-m", "hm_neuro.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        preexec_fn=preexec_fn,
        timeout=timeout,
    )


def run_cli_here(*args, cwd, monkeypatch, capsys, env=None):
    """The command line's ``main()`` in this process (what ``run_cli`` runs,
    without starting an interpreter and importing NumPy again: ~0.05 s in place
    of ~0.4 s): its exit status, stdout and stderr, in ``cwd`` with ``env`` on
    top of the environment.  The SIGTERM handler ``main()`` installs is put back."""
    from hm_neuro.cli.main import main

    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(cwd)
    handler = signal.getsignal(signal.SIGTERM)
    capsys.readouterr()
    try:
        status = main([str(a) for a in args])
    except SystemExit as e:  # argparse's errors
        status = e.code
    finally:
        signal.signal(signal.SIGTERM, handler)
    said = capsys.readouterr()
    return subprocess.CompletedProcess(args, 0 if status is None else status, said.out, said.err)


def snapshot(folder):
    """Every file under ``folder`` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def per_layer_precision():
    """A grid per weight set (issue 36): 6 bits over each set's own range."""
    from hm_neuro.model import Grid, Precision

    return Precision(
        [Grid(6, (0, 20)), Grid(6, (-5, 5))], [Grid(6, (-3, 11)), Grid(6, (-5, 5))], None, name="per-layer"
    )
