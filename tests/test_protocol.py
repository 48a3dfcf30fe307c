"""Protocols: epochs, lesions, clamps and rasters on one compiled circuit."""

import json

import numpy as np
import pytest
from conftest import backends, make_circuit

from hm_neuro.cli import main
from hm_neuro.errors import HMError
from hm_neuro.model import load_circuit
from hm_neuro.runs.protocol import ProtocolEpoch, load_protocol, run_protocol
from hm_neuro.training import BarsStream


@pytest.mark.parametrize("options", backends("brian2"))
def test_epochs_gates_lesions_and_clamps_on_the_circuit(options):
    """The same protocol on every engine that records rasters: the binary
    circuit and in real time (where the rasters are the states of each
    example's phase windows)."""
    c = make_circuit([16, 4, 1], rate=0.05)
    n, m = (100, 60) if "spiking" in options else (300, 200)  # the spiking circuit: 7 clock steps per example
    epochs = [
        ProtocolEpoch(n, "wake-sleep"),
        ProtocolEpoch(m, "frozen", record_spikes=50),
        ProtocolEpoch(50, "wake", lesion={"recognition_0": 1.0}, clamp={"2": [1]}, record_spikes=50),
    ]
    seen = []
    res = run_protocol(
        c,
        BarsStream(),
        epochs,
        seed=1,
        progress=False,
        measures=lambda p: seen.append(p.copy()) or {"n": len(seen)},
        **options,
    )
    r1, r2 = res["epochs"][1], res["epochs"][2]
    # measured before the first epoch, then at the start (its lesions on) and the end of each epoch
    initial, starts, after = seen[0], seen[1::2], seen[2::2]
    assert res["params"].max_abs_difference(initial) > 0
    # the frozen epoch changed no weight
    assert after[1].max_abs_difference(after[0]) == 0.0
    # the clamped top layer is on in every example of both phases
    for phase in ("wake", "sleep"):
        assert len(r2["spikes"][f"{phase}_2_t"]) == 50
        assert r2["rates"][phase][2] == [1.0]
    # a wake-only epoch leaves the recognition pathway as it was; the generative one learns
    for a, b in zip(res["params"].recognition_weights, after[1].recognition_weights):
        np.testing.assert_array_equal(a, b)
    assert res["params"].max_abs_difference(after[1]) > 0
    # measures see the lesioned machine: all of recognition_0 silenced
    assert np.all(after[2].recognition_weights[0] == 0) and np.any(after[1].recognition_weights[0] != 0)
    assert np.all(starts[2].recognition_weights[0] == 0)  # from the epoch's first example: a step, not a ramp
    assert r1["examples_before"] == n and r2["examples_before"] == n + m
    # recorded firing probabilities are the rasters' means
    t = np.asarray(r1["spikes"]["wake_1_t"])
    assert sum(r1["rates"]["wake"][1]) * 50 == pytest.approx(len(t))
    # awake, layer 0 holds the data: bars, so some but not all of the 16 pixels
    assert 0 < len(r1["spikes"]["wake_0_t"]) < 50 * 16


def test_measures_within_an_epoch():
    c = make_circuit([16, 4, 1], rate=0.05)
    epochs = [ProtocolEpoch(250, "wake-sleep", measure_every=100), ProtocolEpoch(100, "wake")]
    res = run_protocol(
        c,
        BarsStream(),
        epochs,
        seed=2,
        device="numpy",
        progress=False,
        measures=lambda p: {"w": float(np.sum(p.generative_weights[0]))},
    )
    trace = res["epochs"][0]["trace"]
    assert [point["examples"] for point in trace] == [0, 100, 200, 250]  # the epoch's start, then every 100
    assert len({point["w"] for point in trace}) == 4  # the machine changed between measurements
    assert res["epochs"][0]["measures"] == {"w": trace[-1]["w"]}
    assert [point["examples"] for point in res["epochs"][1]["trace"]] == [250, 350]
    assert "w" in res["initial_measures"]


def test_protocol_cli_writes_the_recording_with_its_protocol(tmp_path):
    proto = tmp_path / "p.toml"
    proto.write_text(
        '[[epoch]]\nexamples = 300\nkind = "wake-sleep"\nrecord_spikes = 20\n'
        '[[epoch]]\nexamples = 100\nkind = "frozen"\nlesion = { generative_0 = 0.5 }\n'
    )
    out = tmp_path / "rec.npz"
    assert main(["protocol", str(proto), "--device", "numpy", "--out", str(out), "-q"]) == 0
    z = np.load(out)
    assert str(z["protocol"]) == proto.read_text()
    meta = json.loads(str(z["epochs"]))
    assert [m["epoch"]["kind"] for m in meta] == ["wake-sleep", "frozen"]
    assert np.isfinite(meta[1]["measures"]["kl_data_model_bits"])
    assert "epoch0_wake_0_t" in z.files
    assert json.loads(str(z["initial_measures"]))["kl_data_model_bits"] > meta[0]["measures"]["kl_data_model_bits"]
    from matplotlib.image import imread

    assert imread(tmp_path / "rec.png").shape[1] > 500  # the recording's figure
    spiking = tmp_path / "spiking.npz"
    proto.write_text(
        proto.read_text().replace("examples = 300", "examples = 40").replace("examples = 100", "examples = 20")
    )
    assert (
        main(
            [
                "protocol",
                str(proto),
                "--device",
                "numpy",
                "--engine",
                "spiking",
                "--window",
                "1",
                "--dt",
                "1",
                "--out",
                str(spiking),
                "-q",
            ]
        )
        == 0
    )
    assert "epoch0_wake_1_t" in np.load(spiking).files


@pytest.mark.parametrize(
    "text, message",
    [
        ('[[epoch]]\nkind = "wake"\n', r"epoch 1: missing key 'examples'"),
        ('[[epoch]]\nexamples = 10\nkind = "nap"\n', r"epoch 1: epoch kind: must be one of"),
        ("[[epoch]]\nexamples = 10\nlesion = { recognition_0 = 1.5 }\n", r"lesion recognition_0: must be a fraction"),
        ("[[epoch]]\nexamples = 10\nbogus = 1\n", r"epoch 1: unknown keys"),
        ('title = "x"\n', r"needs one or more \[\[epoch\]\] tables"),
        ("[[epoch]]\nexamples = 10\nrecord_spikes = 20\n", r"record_spikes: must be in 0..10"),
        (
            "[[epoch]]\nexamples = 10\nmeasure_every = 2.5\n",
            r"epoch 1: measure_every: must be a whole number \(got 2.5\)",
        ),
    ],
)
def test_bad_protocol_files(tmp_path, text, message):
    p = tmp_path / "p.toml"
    p.write_text(text)
    with pytest.raises(HMError, match=message):
        load_protocol(p)


def test_lesion_of_a_missing_set_and_bad_clamp_are_refused():
    c = make_circuit([16, 4, 1])
    rng = np.random.default_rng(0)
    with pytest.raises(HMError, match=r"epoch lesion: no synapse set recognition_3"):
        ProtocolEpoch(10, lesion={"recognition_3": 0.5}).perturbation(c, rng)
    with pytest.raises(HMError, match=r"clamp of layer 1: state must be 4 zeros and ones"):
        ProtocolEpoch(10, clamp={"1": [1, 0]}).perturbation(c, rng)


def test_a_lesion_is_drawn_as_a_step_at_its_example():
    """The measures are taken on both sides of an epoch boundary: the
    figure's line has two points at the lesion's example (a vertical
    step), not a ramp over the measurement interval; each measure has its
    own axis, labelled in words."""
    from hm_neuro.measures import FloatMeasures
    from hm_neuro.plotting import protocol_figure

    c = load_circuit("bars")
    epochs = [
        ProtocolEpoch(300, "wake-sleep", measure_every=150),
        ProtocolEpoch(200, "frozen", lesion={"recognition_0": 0.9}, name="lesion"),
    ]
    measures = FloatMeasures(c, "bars", 0)
    res = run_protocol(c, BarsStream(), epochs, seed=0, engine="numpy", measures=measures, progress=False)
    fig = protocol_figure(res, list(c.layers), "p on bars")
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert labels[:3] == ["KL(data‖model)\n[bits]", "KL(Q‖P) penalty\n[bits]", "free energy F\n[bits]"]
    x, y = fig.axes[2].lines[0].get_data()  # free energy
    at = np.flatnonzero(np.asarray(x) == 300)
    assert len(at) == 2 and y[at[1]] > y[at[0]] + 0.1  # the lesion: a step up at example 300
    assert list(x) == [0, 0, 150, 300, 300, 500]
