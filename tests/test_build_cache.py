"""The build cache's precompiled header: used by GCC, the same object files,
one per compiler and flags, listed and cleared with the builds."""

import logging
import os
import re
import subprocess
import time

import numpy as np
import pytest
from conftest import make_circuit, needs_compiler, random_parameters

from hm_neuro.cli import main
from hm_neuro.engines import make_engine
from hm_neuro.engines.brian2 import cache
from hm_neuro.errors import HMError

pytestmark = needs_compiler

FLAGS = ["-w", "-O3", "-ffast-math", "-fno-finite-math-only", "-march=native", "-std=c++11"]

#: a source that uses what Brian2's generated code uses from the standard library
SOURCE = """#include <random>
#include <vector>
#include <cmath>
#include <iostream>
double f(std::vector<double>& v, std::mt19937& g) {
    std::uniform_real_distribution<double> u(0, 1);
    double s = 0;
    for (double& x : v) { x = std::exp(-x) * u(g); s += x; }
    std::cout << s;
    return s;
}
"""


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HM_NEURO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("HM_NEURO_PCH", raising=False)
    return tmp_path / "cache"


def header_for(flags):
    with cache.precompiled_header(flags) as header:
        return header


def _compile(tmp_path, name, extra):
    src = tmp_path / "f.cpp"
    src.write_text(SOURCE)
    out = tmp_path / name
    r = subprocess.run([*cache._compiler(), "-c", *FLAGS, *extra, str(src), "-o", str(out)], capture_output=True)
    assert r.returncode == 0, r.stderr
    return out.read_bytes()


def test_the_precompiled_header_is_used_and_changes_no_object_file(cache_dir, tmp_path):
    header = header_for(FLAGS)
    if header is None:
        pytest.skip(f"no GCC here ({cache._compiler_version()})")
    assert header.parent.parent == cache_dir / "headers"
    assert (header.parent / (header.name + ".gch")).is_file()
    without = _compile(tmp_path, "without.o", [])
    probe = subprocess.run(
        [*cache._compiler(), "-fsyntax-only", *FLAGS, "-H", "-include", str(header), str(tmp_path / "f.cpp")],
        capture_output=True,
        text=True,
    )
    assert f"! {header}.gch" in probe.stderr  # "!": GCC read the precompiled form
    assert _compile(tmp_path, "with.o", ["-include", str(header)]) == without
    assert header_for(FLAGS) == header  # found again, not rebuilt
    assert header_for([*FLAGS, "-O2"]) != header  # other flags, another header


def test_no_precompiled_header_when_switched_off(cache_dir, monkeypatch):
    monkeypatch.setenv("HM_NEURO_PCH", "0")
    assert header_for(FLAGS) is None
    assert not (cache_dir / "headers").exists()


def test_a_build_force_includes_the_header_and_cache_clear_removes_both(cache_dir, capsys):
    eng = make_engine(make_circuit([3, 2]), "brian2", device="cpp_standalone", chunk=10)
    try:
        makefile = (eng.build_entry / "makefile").read_text()
        headers = cache.cache_entries("headers")
        if not headers:
            pytest.skip(f"no GCC here ({cache._compiler_version()})")
        assert f"-include {headers[0][0] / 'hm_neuro_std.h'}" in makefile
    finally:
        eng.close()
    assert main(["cache", "info"]) == 0
    assert "1 build(s)" in capsys.readouterr().out
    assert main(["cache", "clear"]) == 0
    assert "removed 1 cached build(s)" in capsys.readouterr().out
    assert cache.cache_entries() == [] and cache.cache_entries("headers") == []


def test_the_code_objects_compile_as_one_source(cache_dir):
    """unity.cpp includes every code object (each in a namespace of its own);
    unity.mk, the makefile make reads, has it in their place."""
    eng = make_engine(make_circuit([3, 2]), "brian2", device="cpp_standalone", chunk=10)
    eng.close()
    entry = eng.build_entry
    objects = sorted((entry / "code_objects").glob("*.cpp"))
    text = (entry / "unity.cpp").read_text()
    assert len(objects) >= 10 and all(f'#include "code_objects/{p.name}"' in text for p in objects)
    assert (entry / "unity.o").is_file() and not list((entry / "code_objects").glob("*.o"))
    sources = re.search(r"^SRCS = (.*)$", (entry / "unity.mk").read_text(), re.M).group(1).split()
    assert "unity.cpp" in sources and not any(s.startswith("code_objects/") for s in sources)


def test_a_project_whose_headers_it_does_not_recognise_keeps_brian2s_makefile(tmp_path):
    from hm_neuro.engines.brian2 import unity

    (tmp_path / "code_objects").mkdir()
    (tmp_path / "code_objects/a.cpp").write_text("int _run_a() { return 1; }\n")
    (tmp_path / "code_objects/a.h").write_text("#ifndef A\n#define A\nint _run_a();\n#endif\n")
    makefile = "SRCS = code_objects/a.cpp main.cpp\nall:\n"
    (tmp_path / "makefile").write_text(makefile)
    assert unity.main(tmp_path) == 0
    assert (tmp_path / "unity.mk").read_text() == makefile and not (tmp_path / "unity.cpp").exists()
    (tmp_path / "code_objects/a.h").write_text("#ifndef A\n#define A\nvoid _run_a();\n#endif\n")
    (tmp_path / "code_objects/a.cpp").write_text("#ifndef ONCE\n#define ONCE\nvoid _run_a() {}\n#endif\n")
    assert unity.main(tmp_path) == 0
    assert (tmp_path / "unity.mk").read_text() == "SRCS = main.cpp unity.cpp\nall:\n"
    text = (tmp_path / "unity.cpp").read_text()
    assert "void _run_a() { hm_unity_0::_run_a(); }" in text
    assert text.index("#undef ONCE") < text.index('namespace hm_unity_0 {\n#include "code_objects/a.cpp"')
    (tmp_path / "code_objects/a.h").unlink()  # a code object without a header: Brian2's makefile
    assert unity.main(tmp_path) == 0
    assert (tmp_path / "unity.mk").read_text() == makefile


def _ccache_hits(env_dir):
    out = subprocess.run(["ccache", "--print-stats"], capture_output=True, text=True, env={"CCACHE_DIR": env_dir})
    stats = dict(line.split("\t") for line in out.stdout.splitlines() if "\t" in line)
    return int(stats.get("direct_cache_hit", 0)) + int(stats.get("preprocessed_cache_hit", 0))


def test_with_ccache_a_build_compiled_again_compiles_nothing_new(cache_dir, tmp_path, monkeypatch):
    """The build cache emptied (as a new Brian2 or compiler version does by
    changing every key): with ccache installed, the same build again is
    served from ccache, precompiled header included."""
    if not cache.shutil.which("ccache"):
        pytest.skip("ccache is not installed")
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setenv("CCACHE_DIR", str(tmp_path / "ccache"))
    stats = str(tmp_path / "ccache")
    for build in range(2):
        eng = make_engine(make_circuit([3, 2]), "brian2", device="cpp_standalone", chunk=10)
        eng.close()
        assert not eng.cached_build  # compiled (by make), each time
        # unity.cpp (the code objects), objects.cpp, main.cpp, ... and the header
        compiled = len(list(eng.build_entry.rglob("*.o"))) + 1
        assert compiled >= 6
        assert main(["cache", "clear"]) == 0
        hits = _ccache_hits(stats)
        if build == 0:
            assert hits == 0
    assert hits >= compiled  # every compile found again


# ------------------------------------------------ a build is a verified record


def _fake_build(entry):
    """A folder laid out like a build (a binary, objects in two folders) with its record."""
    (entry / "code_objects").mkdir(parents=True)
    (entry / "main").write_bytes(b"\x7fELF" + bytes(range(256)) * 8)
    for name in ("main.o", "objects.o", "code_objects/a.o", "code_objects/b.o"):
        (entry / name).write_bytes(name.encode() * 100)
    cache.record_build(entry)


def _truncate(path, size=1000):
    with open(path, "r+b") as f:
        f.truncate(size)


def _same_size_noise(path):
    path.write_bytes(np.random.default_rng(0).bytes(path.stat().st_size))


def _binary_gone_object_garbled(entry):
    (entry / "main").unlink()
    _same_size_noise(entry / "code_objects/a.o")


def _truncated_object_newer(entry):
    _truncate(entry / "code_objects/b.o", 10)
    os.utime(entry / "code_objects/b.o", (time.time() + 60, time.time() + 60))


@pytest.mark.parametrize(
    "harm, reason",
    [
        (lambda e: _truncate(e / "main"), r"main has 1000 bytes, not 2052"),
        (lambda e: _same_size_noise(e / "main"), r"main differs from the build's record"),
        (_binary_gone_object_garbled, r"main is missing"),
        (_truncated_object_newer, r"code_objects/b.o has 10 bytes"),
        (lambda e: (e / cache.RECORD).unlink(), r"no record of a finished build"),
        (lambda e: (e / cache.RECORD).write_text("{"), r"record is unreadable"),
    ],
    ids=[
        "truncated-binary",
        "random-binary",
        "garbled-object-no-binary",
        "truncated-newer-object",
        "no-record",
        "bad-record",
    ],
)
def test_a_damaged_build_is_named_by_its_record(tmp_path, harm, reason):
    entry = tmp_path / "entry"
    _fake_build(entry)
    assert cache.damage(entry) is None
    harm(entry)
    assert re.search(reason, cache.damage(entry))


def test_a_truncated_cached_binary_is_rebuilt_and_trains_like_the_reference(cache_dir, caplog):
    """A cached binary cut short (what a full disk or a killed copy leaves):
    the next engine of that shape says so in one line, builds it again from
    scratch and trains exactly like the NumPy reference."""
    circuit = make_circuit([3, 2])
    with make_engine(circuit, "brian2", device="cpp_standalone", chunk=10) as eng:
        entry = eng.build_entry
    _truncate(entry / "main")
    with caplog.at_level(logging.INFO, logger="hm_neuro.progress"):
        with make_engine(circuit, "brian2", device="cpp_standalone", chunk=10) as eng:
            assert not eng.cached_build
            rng = np.random.default_rng(0)
            p0 = random_parameters(circuit, rng)
            data = (rng.random((10, 3)) < 0.5).astype(float)
            got, _ = eng.run(p0, data, seed=3)
    said = [r.getMessage() for r in caplog.records if "unusable" in r.getMessage()]
    assert len(said) == 1 and re.search(r"main has 1000 bytes, not \d+\): building it again from scratch", said[0])
    with make_engine(circuit, "numpy", chunk=10) as ref:
        want, _ = ref.run(p0, data, seed=3)
    for a, b in zip(got.arrays().values(), want.arrays().values()):
        np.testing.assert_allclose(a, b, atol=1e-12)
    assert cache.damage(entry) is None


def test_a_failed_build_leaves_no_entry(cache_dir, monkeypatch):
    """A compile that fails (here: make is told to use a compiler that
    exits 1) leaves no build folder that could look complete."""
    fake = cache_dir.parent / "bin"
    fake.mkdir()
    (fake / "badcxx").write_text('#!/bin/sh\ncase "$*" in *--version*) echo "badcxx 1.0"; exit 0;; esac\nexit 1\n')
    (fake / "badcxx").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    monkeypatch.setenv("CXX", "badcxx")
    with pytest.raises(RuntimeError, match="compilation failed"):
        make_engine(make_circuit([3, 2]), "brian2", device="cpp_standalone", chunk=10)
    assert cache.cache_entries() == []


# ------------------------------------------------ shared files and clear


def test_cache_clear_keeps_a_header_and_a_build_in_use(cache_dir, capsys):
    """``cache clear`` while another process compiles with the precompiled
    header (held with a shared lock) or builds an entry (its exclusive
    lock): both are kept and said, not deleted under the compiler; what no
    one holds is removed with its lock file."""
    header_folder = cache_dir / "headers" / "abc"
    header_folder.mkdir(parents=True)
    (header_folder / "hm_neuro_std.h").write_text("")
    busy, idle = cache_dir / "builds" / "busy", cache_dir / "builds" / "idle"
    busy.mkdir(parents=True)
    idle.mkdir()
    (idle.with_suffix(".lock")).touch()
    with cache.FileLock(header_folder.with_suffix(".lock"), shared=True), cache.FileLock(busy.with_suffix(".lock")):
        assert main(["cache", "clear"]) == 0
    out = capsys.readouterr().out
    assert "removed 1 cached build(s)" in out
    assert re.search(r"kept .*builds/busy: a running hm-neuro process is using it", out)
    assert re.search(r"kept .*headers/abc: a running hm-neuro process is using it", out)
    assert header_folder.is_dir() and busy.is_dir()
    assert not idle.exists() and not idle.with_suffix(".lock").exists()


def test_a_lock_that_cannot_be_opened_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(HMError, match=r"build cache: cannot open the lock file .*file/x.lock"):
        with cache.FileLock(tmp_path / "file" / "x.lock"):
            pass


# ------------------------------------------------ the toolchain, checked before work


@pytest.mark.parametrize("name", ["HM_NEURO_PCH", "HM_NEURO_CCACHE"])
@pytest.mark.parametrize("value", ["banana", "2", "of"])
def test_switches_refuse_what_they_do_not_know(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(HMError, match=rf"{name}: must be one of 0/1/true/false/on/off/yes/no \(got '{value}'\)"):
        cache.check_toolchain()


@pytest.mark.parametrize(
    "value, on", [("0", False), ("off", False), ("False", False), ("no", False), ("1", True), ("ON", True), ("", True)]
)
def test_switches_read_the_usual_words(monkeypatch, value, on):
    monkeypatch.setenv("HM_NEURO_PCH", value)
    assert cache.switch("HM_NEURO_PCH") is on


def test_a_missing_compiler_is_refused_by_name_before_work(cache_dir, monkeypatch):
    monkeypatch.setenv("CXX", "nosuchcompiler")
    with pytest.raises(HMError, match=r"CXX: is not a command found on PATH .*\(got 'nosuchcompiler'\)"):
        make_engine(make_circuit([3, 2]), "brian2", device="cpp_standalone", chunk=10)
    assert not (cache_dir / "builds").exists()


def test_a_compiler_that_does_not_run_is_refused(tmp_path, monkeypatch):
    (tmp_path / "broken").write_text("#!/bin/sh\nexit 3\n")
    (tmp_path / "broken").chmod(0o755)
    monkeypatch.setenv("CXX", str(tmp_path / "broken"))
    with pytest.raises(HMError, match=r"CXX: the compiler does not run \('.*broken --version' failed\)"):
        cache.check_toolchain()


def test_an_unwritable_ccache_folder_falls_back_to_plain_gxx(tmp_path, monkeypatch, caplog):
    """ccache installed but its folder unusable (here: a file where the
    folder should be): plain g++, said in one line, instead of every
    compile failing."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "ccache").write_text("#!/bin/sh\nexit 0\n")
    (fake / "ccache").chmod(0o755)
    (tmp_path / "not_a_folder").write_text("")
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.delenv("HM_NEURO_CCACHE", raising=False)
    monkeypatch.setenv("CCACHE_DIR", str(tmp_path / "not_a_folder" / "sub"))
    with caplog.at_level(logging.WARNING), cache.compiler_cache() as tool:
        assert tool is None and "CXX" not in os.environ
    assert any("cannot be written: compiling with plain g++" in r.getMessage() for r in caplog.records)
    monkeypatch.setenv("CCACHE_DIR", str(tmp_path / "ok"))
    with cache.compiler_cache() as tool:
        assert tool == str(fake / "ccache") and os.environ["CXX"] == f"{fake / 'ccache'} g++"


def test_a_second_engine_of_a_shape_in_one_process_generates_the_same_sources(cache_dir):
    """An engine closed (here before any run) releases its Brian2 objects at
    once: the next engine of the shape gets the same names, so it generates
    the same sources as the cached build.  (A regression of this session: a
    loop variable kept an object alive through close()'s collection; every
    second engine in a process got ``..._1`` sources and recompiled.)"""
    from brian2.core.names import Nameable

    circuit = make_circuit([3, 2])
    with make_engine(circuit, "brian2", device="cpp_standalone", chunk=10) as eng:
        first = sorted(p.name for p in (eng.build_entry / "code_objects").glob("*.cpp"))
    assert {o().name for o in Nameable.__instances__() if o() is not None} <= {"magicnetwork", "defaultclock"}
    with make_engine(circuit, "brian2", device="cpp_standalone", chunk=10) as eng:
        second = sorted(p.name for p in (eng.build_entry / "code_objects").glob("*.cpp"))
        cached = eng.cached_build
    assert second == first and not any("_1." in name for name in first + second)
    assert cached  # nothing compiled the second time


# ------------------------------------------------ runs of other lengths share a build


def test_interactive_compiled_runs_take_their_chunk_from_a_ladder():
    from hm_neuro.engines import CHUNK_LADDER, EngineOptions, ladder_chunk

    cpp = EngineOptions(engine="brian2", device="cpp_standalone")
    got = {n: ladder_chunk(cpp, n) for n in (1, 1024, 1025, 5000, 40_000, 50_000, 100_000, 131_072)}
    assert got == {
        1: 1024,
        1024: 1024,
        1025: 2048,
        5000: 8192,
        40_000: 65536,
        50_000: 65536,
        100_000: 65536,
        131_072: 65536,
    }
    assert ladder_chunk(cpp, 131_073) is None  # long runs: even chunks of up to 1e5, as before
    assert ladder_chunk(cpp.replace(chunk=5000), 50_000) is None  # a chunk the caller chose
    assert ladder_chunk(EngineOptions(engine="brian2", device="numpy"), 50_000) is None  # nothing compiled per chunk
    assert ladder_chunk(EngineOptions(engine="vectorised"), 50_000) is None
    assert CHUNK_LADDER[-1] == 65536


def test_a_build_that_is_needed_says_which_part_of_its_key_is_new(tmp_path, monkeypatch):
    monkeypatch.setenv("HM_NEURO_CACHE_DIR", str(tmp_path))
    fields = {"layers": [16, 8, 1], "chunk": 65536, "n_machines": 1, "record_every": 0}
    assert cache.what_is_new(fields) == "no build of these layers is cached"
    entry = tmp_path / "builds" / "abc"
    entry.mkdir(parents=True)
    (entry / "main").write_bytes(b"\x7fELF")
    cache.record_build(entry, {**fields, "chunk": 8192, "record_every": 1000})
    assert cache.what_is_new(fields) == "new: chunk 65536 (cached: 8192), record_every 0 (cached: 1000)"
    assert cache.what_is_new({**fields, "layers": [4, 2]}) == "no build of these layers is cached"


@needs_compiler
@pytest.mark.standalone
@pytest.mark.slow
def test_fifty_thousand_then_a_hundred_thousand_then_another_rate_compile_once(tmp_path, monkeypatch, caplog):
    import hm_neuro as hm

    monkeypatch.setenv("HM_NEURO_CACHE_DIR", str(tmp_path))
    c = hm.load_circuit("bars")
    faster = c.replace(learning_rates={**c.learning_rates, "generative_weights": (0.3, 0.002)})
    kw = dict(engine="brian2", device="cpp_standalone", progress=False)
    with caplog.at_level(logging.INFO, logger="hm_neuro"):
        runs = [
            hm.train(c, hm.BarsStream(), 50_000, seed=0, **kw),
            hm.train(c, hm.BarsStream(), 100_000, seed=0, **kw),
            hm.train(faster, hm.BarsStream(), 100_000, seed=0, **kw),
        ]
    assert sum("compiling the circuit" in r.getMessage() for r in caplog.records) == 1
    assert [r.examples_seen for r in runs] == [50_000, 100_000, 100_000]
    assert runs[1].params.max_abs_difference(runs[2].params) > 1e-3  # the rate did change the run
    ref = hm.train(c, hm.BarsStream(), 50_000, seed=0, engine="vectorised", progress=False)
    assert runs[0].params.max_abs_difference(ref.params) <= 1e-9  # the padding learned nothing
