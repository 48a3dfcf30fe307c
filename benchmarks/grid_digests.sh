#!/usr/bin/env bash
# Weights of `hm-neuro train --examples 2000 --seed 0` with finite-precision grids (the loihi and cortex presets,
# per-layer nearest grids, a declared rule on a stochastic grid) on every engine, as sha256 digests: a refactor of
# the grids that must not change behaviour leaves every line unchanged (benchmarks/grid_digests.txt).
# usage: benchmarks/grid_digests.sh OUTDIR  (OUTDIR absolute; ~6 min on a cold build cache)

here=$(cd "$(dirname "$0")" && pwd)
out=$1; mkdir -p $out; cd $out
export HM_NEURO_CACHE_DIR=${HM_NEURO_CACHE_DIR:-$out/cache}
circuits=$(python -c "import hm_neuro, pathlib; print(pathlib.Path(hm_neuro.__file__).parent / 'circuits')")
{ cat $circuits/bars.toml; cat <<'TOML'

[precision]
generative = [{bits = 5, range = [-4, 8], rounding = "nearest"}, {bits = 6, range = [-8, 8], rounding = "nearest"}]
recognition = {bits = 7, range = [-16, 16], rounding = "nearest"}
biases = {bits = 8, range = [-8, 8], rounding = "nearest"}
TOML
} > $out/nearest.toml
{ cat $circuits/bars_weight_decay.toml; cat <<'TOML'

[precision]
generative = {bits = 4.7, range = [-16, 16], rounding = "stochastic"}
recognition = {bits = 4.7, range = [-16, 16], rounding = "stochastic"}
biases = {bits = 10, range = [-16, 16], rounding = "stochastic"}
TOML
} > $out/decay_grid.toml
run() { name=$1; shift; hm-neuro train --examples 2000 --seed 0 --out $out/$name.npz -q "$@" > $out/$name.log 2>&1 || echo "FAIL $name"; }
for p in loihi cortex; do
  run ${p}_numpy --engine numpy --precision $p
  run ${p}_vectorised --engine vectorised --precision $p
  run ${p}_b2numpy --engine brian2 --device numpy --precision $p
  run ${p}_b2cpp --engine brian2 --device cpp_standalone --precision $p
  run ${p}_b2cppevent --engine brian2 --device cpp_standalone --propagation event --precision $p
  run ${p}_spkcpp --engine spiking --device cpp_standalone --precision $p
done
for c in nearest decay_grid; do
  run ${c}_numpy --engine numpy --circuit $out/$c.toml
  run ${c}_vectorised --engine vectorised --circuit $out/$c.toml
  run ${c}_b2numpy --engine brian2 --device numpy --circuit $out/$c.toml
  run ${c}_b2cpp --engine brian2 --device cpp_standalone --circuit $out/$c.toml
  run ${c}_spkcpp --engine spiking --device cpp_standalone --circuit $out/$c.toml
done
run nearest_b2cppevent --engine brian2 --device cpp_standalone --propagation event --circuit $out/nearest.toml
run loihi_b2cpp_rw --engine brian2 --device cpp_standalone --rule reweighted:3 --precision loihi
run loihi_vec_rw --engine vectorised --rule reweighted:3 --precision loihi
python "$here/digests.py" $out > $out/digests.txt
cat $out/digests.txt
