"""
The Brian2 circuit with monitors of your own: rasters awake and asleep
======================================================================

The same machine as a Brian2 circuit (here on Brian2's ``numpy`` target, so
no compiler is needed; ``device="cpp_standalone"`` compiles it).  A unit that
is on in the wake phase emits a ``wake`` event and one on in the fantasy a
``sleep`` event, so ``EventMonitor`` records perception and dream rasters;
a ``StateMonitor`` records the recognition probabilities of eq. 1.
"""

import brian2 as b2
import matplotlib.pyplot as plt
import numpy as np

import hm_neuro as hm

circuit = hm.load_circuit("bars")
trained = hm.train(circuit, hm.BarsStream(), 60_000, seed=3, engine="numpy", progress=False).params
data = hm.sample_bars(60, np.random.default_rng(1))


def monitors(net):
    return {
        "awake": b2.EventMonitor(net.layers[1], "wake"),
        "asleep": b2.EventMonitor(net.layers[1], "sleep"),
        "q": b2.StateMonitor(net.layers[1], "q", record=True, when="end"),
    }


frozen = np.zeros(len(data))  # learning off: the trained machine perceives and dreams
with hm.make_engine(circuit, "brian2", device="numpy", chunk=len(data), monitors=monitors, record_spikes=True) as eng:
    eng.run(trained, data, seed=2, wake_gate=frozen, sleep_gate=frozen)
    m = eng.monitors
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3), sharey=True)
    for ax, name in ((a, "awake"), (b, "asleep")):
        ax.plot(np.asarray(m[name].t_) / 1e-4, m[name].i, "|", ms=8)
        ax.set_title(f"hidden layer 1, {name}")
        ax.set_xlabel("example")
    a.set_ylabel("unit")
    fig.tight_layout()
    print(
        f"{len(m['awake'].i)} wake and {len(m['asleep'].i)} sleep events; q of unit 0 in the last example: "
        f"{float(m['q'].q[0, -1]):.3f}"
    )
plt.show()
