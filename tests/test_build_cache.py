"""The build cache's precompiled header: used by GCC, the same object files,
one per compiler and flags, listed and cleared with the builds."""

import subprocess

import pytest
from conftest import make_circuit, needs_compiler

from hm_neuro.cli import main
from hm_neuro.engines import make_engine
from hm_neuro.engines.brian2 import cache

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


def _compile(tmp_path, name, extra):
    src = tmp_path / "f.cpp"
    src.write_text(SOURCE)
    out = tmp_path / name
    r = subprocess.run([*cache._compiler(), "-c", *FLAGS, *extra, str(src), "-o", str(out)], capture_output=True)
    assert r.returncode == 0, r.stderr
    return out.read_bytes()


def test_the_precompiled_header_is_used_and_changes_no_object_file(cache_dir, tmp_path):
    header = cache.precompiled_header(FLAGS)
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
    assert cache.precompiled_header(FLAGS) == header  # found again, not rebuilt
    assert cache.precompiled_header([*FLAGS, "-O2"]) != header  # other flags, another header


def test_no_precompiled_header_when_switched_off(cache_dir, monkeypatch):
    monkeypatch.setenv("HM_NEURO_PCH", "0")
    assert cache.precompiled_header(FLAGS) is None
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
        assert main(["cache", "clear"]) == 0
        hits = _ccache_hits(stats)
        if build == 0:
            assert hits == 0
    assert hits >= 20  # the code objects, objects.cpp, main.cpp, ... and the header: found again
