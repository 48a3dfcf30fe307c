"""Monitors through the API: the user's Brian2 monitors on the binary and
spiking circuits, on runtime and cpp_standalone, returned with every run."""

import brian2 as b2
import numpy as np
import pytest
from conftest import backends, needs_compiler, random_parameters

import hm_neuro as hm
from hm_neuro.errors import HMError

#: the engines that take Brian2 monitors (conftest.backends, from the registry): binary and spiking
BINARY = backends("brian2", compiled=True, without="spiking")
SPIKING = backends("spiking", compiled=True)


def setting():
    circuit = hm.load_circuit("bars")
    data = hm.sample_bars(300, np.random.default_rng(0))
    return circuit, hm.Parameters.initial(circuit), data


def monitors(net):
    return {
        "input": b2.StateMonitor(net.layers[0], "s_wake", record=True, when="end"),
        "q": b2.StateMonitor(net.layers[1], "q", record=[0, 3], when="end"),
        "dreams": b2.EventMonitor(net.layers[0], "sleep"),
    }


@pytest.mark.parametrize("options", BINARY)
def test_monitors_record_every_run_and_agree_with_the_circuit(options):
    circuit, _, data = setting()
    params = random_parameters(circuit, np.random.default_rng(4))
    frozen = np.zeros(len(data))  # learning off: every example sees the same weights
    with hm.make_engine(circuit, chunk=300, monitors=monitors, record_spikes=True, **options) as eng:
        for seed in (1, 2):  # a second run records afresh
            _, extras = eng.run(params, data, seed=seed, wake_gate=frozen, sleep_gate=frozen)
            m = eng.monitors
            assert extras["monitors"] is m
            np.testing.assert_array_equal(m["input"].s_wake[:].T, data)  # layer 0 holds the data, awake
            dreamt = np.zeros((300, 16))
            dreamt[np.round(np.asarray(m["dreams"].t_[:]) / 1e-4).astype(int), np.asarray(m["dreams"].i[:])] = 1
            np.testing.assert_array_equal(dreamt, extras["sleep"][0])  # the fantasies' raster
            # at the end of an example, q is the recognition prediction of its fantasy (eq. 1, sleep phase)
            q = hm.sigmoid(params.recognition_biases[0] + dreamt @ params.recognition_weights[0])[:, [0, 3]]
            np.testing.assert_allclose(m["q"].q[:].T, q, atol=1e-12)
        if eng.device == "cpp_standalone":  # the build's key: the same in every process (a set's order is not)
            assert eng.build_fields["monitors"] == [
                ("dreams", "EventMonitor", "['i', 't']"),
                ("input", "StateMonitor", "['s_wake']"),
                ("q", "StateMonitor", "['q']"),
            ]


@pytest.mark.parametrize("options", SPIKING)
def test_spiking_circuit_takes_spike_and_rate_monitors(options):
    circuit, params, data = setting()
    mons = lambda net: {"spikes": b2.SpikeMonitor(net.layers[0]), "rate": b2.PopulationRateMonitor(net.layers[0])}  # noqa: E731
    options = {**options, "spiking": hm.Spiking(window=1.0, dt=0.5)}  # two clock steps per window
    with hm.make_engine(circuit, chunk=10, monitors=mons, **options) as eng:
        eng.run(params, data[:10], seed=3)
        spikes, rate = eng.monitors["spikes"], eng.monitors["rate"]
        assert spikes.num_spikes > 0
        steps = len(rate.rate_[:])
        assert steps == 10 * hm.Spiking(window=1.0, dt=0.5).steps_per_example(circuit.n_hidden_layers)
        # the rate monitor counts the spike monitor's spikes, step by step
        assert np.sum(rate.rate_[:]) * 0.5e-3 * 16 == pytest.approx(spikes.num_spikes)


def test_a_monitor_added_after_the_engine_was_made_runtime():
    circuit, params, data = setting()
    with hm.make_engine(circuit, "brian2", device="numpy", chunk=300) as eng:
        eng.run(params, data, seed=1)
        eng.add_monitor("p", b2.StateMonitor(eng.net.layers[0], "p", record=True, when="end"))
        eng.run(params, data, seed=1)
        assert eng.monitors["p"].p[:].shape == (16, 300)
        with pytest.raises(HMError, match=r"monitor: an engine already has a monitor of this name \(got 'p'\)"):
            eng.add_monitor("p", b2.StateMonitor(eng.net.layers[0], "p", record=True))


@needs_compiler
@pytest.mark.standalone
def test_a_compiled_circuit_refuses_a_late_monitor_naming_the_fix():
    circuit, params, data = setting()
    with hm.make_engine(circuit, "brian2", device="cpp_standalone", chunk=500) as eng:  # test_equivalence's build
        expected = (
            r"monitor: a cpp_standalone circuit is compiled when the engine is made; "
            r"pass monitors=lambda net: \{\.\.\.\} to make_engine"
        )
        with pytest.raises(HMError, match=expected):
            eng.add_monitor("p", b2.StateMonitor(eng.net.layers[0], "p", record=True))


def test_monitors_must_be_a_function_returning_monitors():
    circuit = hm.load_circuit("bars")
    with pytest.raises(HMError, match=r"monitors: must be a function of the network"):
        hm.make_engine(circuit, "brian2", device="numpy", monitors=[1])
    with pytest.raises(HMError, match=r"monitors: must return a dict \{name: Brian2 monitor\} \(got 'list'\)"):
        hm.make_engine(circuit, "brian2", device="numpy", chunk=10, monitors=lambda net: [])
    with pytest.raises(HMError, match=r"monitors: applies to the brian2 engine only, not numpy"):
        hm.make_engine(circuit, "numpy", monitors=lambda net: {})


# ------------------------------------------------------------ phases of a recording


def test_label_steps_follows_the_cycle_of_phases():
    """Spiking.label_steps against Spiking.phases, step by step, for a
    16-8-1 cycle with 2-step windows and 1-step settles."""
    sp = hm.Spiking(window=2.0, dt=1.0, settle=1.0)
    ph, C = sp.phases(2), sp.steps_per_example(2)
    steps = np.arange(3 * C)
    lab = sp.label_steps(steps, 2)
    np.testing.assert_array_equal(lab["example"], steps // C)
    for c in range(C):
        phase = "sleep" if c >= ph["sleep_start"] else "wake"
        windows = ph["sleep_window"] if phase == "sleep" else ph["wake_window"]
        layer = next((l for l, first in windows.items() if first <= c < first + 2), -1)
        assert lab["phase"][c] == phase and lab["window"][c] == layer, c


def test_phase_labels_split_a_spiking_raster_by_example_phase_and_window():
    import brian2 as b2

    c = hm.load_circuit("bars")
    data = hm.sample_bars(6, np.random.default_rng(1))

    def monitors(net):
        return {f"l{l}": b2.SpikeMonitor(g) for l, g in enumerate(net.layers)}

    with hm.make_engine(c, "spiking", device="numpy", chunk=6, monitors=monitors) as eng:
        eng.run(hm.Parameters.initial(c), data, seed=2, offset=500)
        for l in range(3):
            lab = eng.phase_labels(eng.monitors[f"l{l}"])
            assert len(lab["example"]) > 0
            assert set(lab["example"].tolist()) <= set(range(500, 506))
            assert np.all(lab["window"] == l)  # a layer fires in its own windows only
            if l == 0:
                assert set(lab["phase"].tolist()) == {"sleep"}  # awake the input is clamped, it never fires
        assert set(eng.phase_labels(eng.monitors["l1"])["phase"].tolist()) == {"wake", "sleep"}


def test_phase_labels_of_the_binary_circuit_read_the_monitors_event():
    import brian2 as b2

    c = hm.load_circuit("bars")
    data = hm.sample_bars(20, np.random.default_rng(1))

    def monitors(net):
        return {"awake": b2.EventMonitor(net.layers[1], "wake"), "asleep": b2.EventMonitor(net.layers[1], "sleep")}

    with hm.make_engine(c, "brian2", device="numpy", chunk=20, monitors=monitors, record_spikes=True) as eng:
        _, extras = eng.run(hm.Parameters.initial(c), data, seed=2)
        for name, phase in (("awake", "wake"), ("asleep", "sleep")):
            lab = eng.phase_labels(eng.monitors[name])
            assert set(lab["phase"].tolist()) == {phase}
            states = np.zeros((20, 8))
            states[lab["example"], lab["unit"]] = 1.0
            np.testing.assert_array_equal(states, extras[phase][1])  # the events are the recorded states
