"""
Weight evolution: the generative weights learn one bar per hidden unit
======================================================================

A training records every weight every ``record_every`` examples; the
package's figure shows the generative weights from each first-layer hidden
unit to the 4x4 input at a few of those moments.
"""

import matplotlib.pyplot as plt

import hm_neuro as hm

circuit = hm.load_circuit("bars")
result = hm.train(circuit, hm.BarsStream(), 60_000, seed=3, engine="numpy", record_every=10_000, progress=False)
print(f"{len(result.history_seen)} snapshots at {result.history_seen}")
fig = hm.plotting.weight_evolution(result.history_seen, result.history, circuit, n_frames=4)
plt.show()
