"""Deliberate bugs, and the tests that must catch each (run before a release).

Each mutation replaces one exact piece of the library in a copy of
``hm_neuro/`` (the working tree is never touched), runs the tests named for
it against the copy (``PYTHONPATH``, and ``python -P`` so that the working
tree is not on the path; the command-line tests' subprocesses inherit it)
and reports whether they failed -- caught -- or passed, after a baseline
run of the same tests on the unmutated copy.  Exit status 1 if any bug goes
uncaught.

    python tests/mutations/run.py            # every mutation
    python tests/mutations/run.py 1 4        # mutations 1 and 4
    python tests/mutations/run.py --list
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class Mutation:
    name: str
    path: str  # in hm_neuro/
    old: str  # must occur exactly once
    new: str
    tests: tuple  # pytest node ids or -k expressions as "file::name" / "file"


MUTATIONS = [
    Mutation(
        "KL(Q||P) reported in nats instead of bits",
        "measures.py",
        '"kl_q_p": np.maximum(F - neg_log_p, 0.0)',
        '"kl_q_p": np.maximum(F - neg_log_p, 0.0) * np.log(2.0)',
        ("tests/test_measures.py",),
    ),
    Mutation(
        "a resumed run does not restore the history of recognition_weights_0",
        "training/loop.py",
        '[{k: [v] for k, v in saved["history"].items()}]',
        '[{k: [v] for k, v in saved["history"].items() if k != "recognition_weights_0"}]',
        ("tests/test_engines.py::test_checkpoint_resume_is_bit_identical",),
    ),
    Mutation(
        "the population circuit gives the generative weights the generative biases' rate",
        "engines/brian2/population.py",
        'vals[self.layers[l].eps_gen] = per_unit(l, "generative_weights", l)',
        'vals[self.layers[l].eps_gen] = per_unit(l, "generative_biases", l)',
        ("tests/test_engines.py::test_population_reproduces_separate_reference_runs_exactly",),
    ),
    Mutation(
        "the binary circuit drops the recognition biases' update (eq. 7)",
        "engines/brian2/binary.py",
        'db = f"eps_b_rec * {gate} * " + copies_sum(self._rule("bias", "s_sleep", "q", "b_rec"), self.S)',
        'db = f"0 * eps_b_rec * {gate} * " + copies_sum(self._rule("bias", "s_sleep", "q", "b_rec"), self.S)',
        ("tests/test_equivalence.py::test_exact",),
    ),
    Mutation(
        "the spiking circuit drops the generative biases' update (eq. 4)",
        "engines/brian2/spiking.py",
        'db = "eps_b_gen * wake_gate(t, machine) * " + rule.code(',
        'db = "0 * eps_b_gen * wake_gate(t, machine) * " + rule.code(',
        ("tests/test_plasticity.py::test_a_declared_rule_equals_the_reference_exactly",),
    ),
    Mutation(
        "the Brian2 delta rule 0.1 % too large (the clip kept)",
        "engines/brian2/code.py",
        'return f"w = clip(w + {dw}, 0, inf)" if nonnegative else f"w += {dw}"',
        'return f"w = clip(w + 1.001 * {dw}, 0, inf)" if nonnegative else f"w += 1.001 * {dw}"',
        ("tests/test_equivalence.py::test_exact",),
    ),
    Mutation(
        "a declared synapse state's update skipped on the Brian2 circuit",
        "model/plasticity.py",
        'lines += [f"{state_name(h)} = hm_new_{h}" for h in self.state]',
        "lines += []",
        ("tests/test_plasticity.py::test_a_declared_rule_equals_the_reference_exactly",),
    ),
]


def run(m: Mutation | None, k: int, tests=()) -> tuple:
    """(caught, seconds, summary line of pytest); ``m`` None: the tests
    on the unmutated copy (the baseline, which must pass)."""
    with tempfile.TemporaryDirectory(prefix="hm_mutation_") as tmp:
        copy = Path(tmp) / "hm_neuro"
        shutil.copytree(ROOT / "hm_neuro", copy, ignore=shutil.ignore_patterns("__pycache__"))
        if m is not None:
            target = copy / m.path
            text = target.read_text()
            if text.count(m.old) != 1:
                raise SystemExit(f"mutation {k} ({m.name}): its code occurs {text.count(m.old)} times in {m.path}")
            target.write_text(text.replace(m.old, m.new))
            tests = m.tests
        env = dict(os.environ, PYTHONPATH=tmp + os.pathsep + os.environ.get("PYTHONPATH", ""))
        t0 = time.perf_counter()
        r = subprocess.run(
            [sys.executable, "-P", "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not slow", *tests],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        lines = [x for x in r.stdout.strip().splitlines() if x.strip()]
        return r.returncode == 1, time.perf_counter() - t0, lines[-1] if lines else r.stderr.strip()[-200:]


def main(argv):
    if "--list" in argv:
        for k, m in enumerate(MUTATIONS, 1):
            print(f"{k}. {m.name}  [{m.path}; {', '.join(m.tests)}]")
        return 0
    chosen = [int(a) for a in argv] or list(range(1, len(MUTATIONS) + 1))
    tests = sorted({t for k in chosen for t in MUTATIONS[k - 1].tests})
    failed, seconds, summary = run(None, 0, tests)
    print(f"baseline: the tests on the unmutated library ({seconds:.0f} s: {summary})", flush=True)
    if failed:
        print("the baseline fails: fix the tests before mutating")
        return 2
    missed = []
    for k in chosen:
        m = MUTATIONS[k - 1]
        caught, seconds, summary = run(m, k)
        print(f"{k}. {'caught ' if caught else 'MISSED '} {m.name} ({seconds:.0f} s: {summary})", flush=True)
        if not caught:
            missed.append(k)
    print(f"{len(chosen) - len(missed)} of {len(chosen)} caught" + (f"; missed: {missed}" if missed else ""))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
