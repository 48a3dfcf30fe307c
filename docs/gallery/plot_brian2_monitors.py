"""
Monitors of your own: a raster split into wake and sleep
========================================================

The trained bars machine as the spiking Brian2 circuit (Brian2's ``numpy``
target, so no compiler is needed), with a ``SpikeMonitor`` of your own on
every layer.  ``eng.phase_labels(monitor)`` labels each recorded spike with
its example, its phase (wake or sleep) and the layer whose firing window
holds it, so the raster splits without knowing the circuit's clock layout.
Awake, the input layer is clamped to the data and does not fire: its
clamped units are drawn as bars; asleep, every layer fires top-down (the
fantasy).  Learning is off (gates 0): the machine perceives and dreams.
"""

import brian2 as b2
import matplotlib.pyplot as plt
import numpy as np

import hm_neuro as hm

circuit = hm.load_circuit("bars")
trained = hm.train(circuit, hm.BarsStream(), 60_000, seed=3, engine="numpy", progress=False).params
data = hm.sample_bars(4, np.random.default_rng(1))


def monitors(net):
    return {f"layer {l}": b2.SpikeMonitor(g) for l, g in enumerate(net.layers)}


frozen = np.zeros(len(data))
with hm.make_engine(circuit, "spiking", device="numpy", chunk=len(data), monitors=monitors) as eng:
    eng.run(trained, data, seed=2, wake_gate=frozen, sleep_gate=frozen)
    cycle = eng.net.example_duration / b2.ms  # one example: a wake and a sleep phase
    fig, ax = plt.subplots(figsize=(9, 4))
    base, colours = 0, {"wake": "tab:blue", "sleep": "tab:red"}
    for l, n in enumerate(circuit.layers):
        mon = eng.monitors[f"layer {l}"]
        labels = eng.phase_labels(mon)
        for phase, colour in colours.items():
            mine = labels["phase"] == phase
            ax.plot(mon.t[mine] / b2.ms, base + labels["unit"][mine], "|", color=colour, ms=5)
        if l == 0:  # awake, the input is clamped to the data: it holds its state, it does not fire
            awake_ms = circuit.spiking().phases(circuit.n_hidden_layers)["sleep_start"] * eng.net.dt / b2.ms
            for e, row in enumerate(data):
                for unit in np.flatnonzero(row):
                    ax.plot([e * cycle, e * cycle + awake_ms], [unit, unit], color="tab:blue", lw=2, alpha=0.5)
        base += n + 2
    for e in range(len(data)):
        ax.axvline(e * cycle, color="0.7", lw=0.5)
    ax.set_yticks([8, 16 + 2 + 4, 16 + 2 + 8 + 2], ["input (16)", "hidden (8)", "top"])
    ax.set_xlabel("time (ms); grey lines: example boundaries")
    ax.plot([], [], "|", color="tab:blue", label="wake (input: clamped data)")
    ax.plot([], [], "|", color="tab:red", label="sleep (fantasy)")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title("the spiking bars machine, split by eng.phase_labels")
    fig.tight_layout()
    first = eng.phase_labels(eng.monitors["layer 1"])
    print(
        f"hidden layer: {int(np.sum(first['phase'] == 'wake'))} wake and "
        f"{int(np.sum(first['phase'] == 'sleep'))} sleep spikes in examples {sorted(set(first['example'].tolist()))}"
    )
plt.show()
