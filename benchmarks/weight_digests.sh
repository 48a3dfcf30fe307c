#!/usr/bin/env bash
# Weights of `hm-neuro train --examples 2000 --seed 0` on every engine, device, propagation and rule, as
# sha256 digests: a refactor that must not change behaviour leaves every line of the output unchanged.
# usage: benchmarks/weight_digests.sh OUTDIR  (OUTDIR absolute; ~8 min, most of it the spiking circuit on numpy)

here=$(cd "$(dirname "$0")" && pwd)
out=$1; mkdir -p $out; cd $out
export HM_NEURO_CACHE_DIR=${HM_NEURO_CACHE_DIR:-$out/cache}
run() { name=$1; shift; hm-neuro train --examples 2000 --seed 0 --out $out/$name.npz -q "$@" > $out/$name.log 2>&1 || echo "FAIL $name"; }
run numpy --engine numpy
run vectorised --engine vectorised
run b2_numpy --engine brian2 --device numpy
run b2_cython --engine brian2 --device cython
run b2_cpp --engine brian2 --device cpp_standalone
run b2_cpp_event --engine brian2 --device cpp_standalone --propagation event
run b2_numpy_event --engine brian2 --device numpy --propagation event
run b2_cpp_rw --engine brian2 --device cpp_standalone --rule reweighted:3
run b2_numpy_rw --engine brian2 --device numpy --rule reweighted:3
run b2_cpp_ws2 --engine brian2 --device cpp_standalone --rule wake-sleep:2
run spiking_cpp --engine spiking --device cpp_standalone
run spiking_numpy --engine spiking --device numpy
run spiking_cpp_tau --engine spiking --device cpp_standalone --tau-syn 0.2 --delay 0.1 --settle 0.2
python "$here/digests.py" $out > $out/digests.txt
cat $out/digests.txt
