"""The figure functions (hm_neuro.plotting): each draws into the axes or
figure it is given and returns it, and draws what its data say -- checked
on the drawn data, not on pixels."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import hm_neuro as hm  # noqa: E402
from hm_neuro import plotting  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _history(circuit, seen):
    rng = np.random.default_rng(0)
    return {k: rng.normal(size=(len(seen), a.size)) for k, a in hm.Parameters.initial(circuit).arrays().items()}


def test_a_learning_curve_on_a_log_axis_has_no_point_for_example_zero():
    fig = plotting.learning_curve([0, 10, 100, 1000], [3.0, 1.0, 0.5, 0.2], reference=0.1, xscale="log")
    line = fig.axes[0].lines[0]
    assert list(line.get_xdata()) == [10, 100, 1000]
    assert fig.axes[0].get_xscale() == "log"
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "reference: 0.1" in labels and not any(lab.startswith("paper") for lab in labels)


def test_the_reference_line_says_what_it_is():
    fig = plotting.learning_curve([0, 10], [1.0, 0.5], reference=0.1, reference_label="Hinton et al. (1995): 0.1 bits")
    assert "Hinton et al. (1995): 0.1 bits" in fig.axes[0].get_legend_handles_labels()[1]


def test_weight_evolution_titles_each_frame_with_its_example_count():
    c = hm.load_circuit("bars")
    seen = [0, 1000, 2000, 5000, 10000, 20000, 50000, 100000]
    fig = plotting.weight_evolution(seen, _history(c, seen), c, n_frames=4)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    counts = [int(t.split()[0].replace(",", "")) for t in titles]
    assert counts[0] == 0 and set(counts) <= set(seen) and counts == sorted(counts)
    assert "log-spaced" in fig._suptitle.get_text()


def test_many_units_wrap_into_rows_of_blocks():
    c = hm.Circuit.uniform([16, 12, 1], 0.1)
    fig = plotting.bars_generative_weights(hm.Parameters.initial(c), cols=9)
    shown = [ax for ax in fig.axes if ax.get_title()]
    assert len(shown) == 13  # 12 units and the input biases
    rows = {round(ax.get_position().y0, 3) for ax in shown}
    assert len(rows) == 2


@pytest.mark.parametrize(
    "draw",
    [
        lambda ax: plotting.learning_curve([1, 2], [1.0, 0.5], ax=ax),
        lambda ax: plotting.kl_distributions({"a": [0.1, 0.2]}, reference=0.1, ax=ax),
        lambda ax: plotting.success_rates(
            [
                {
                    "setting": "float64",
                    "success_rate": 0.5,
                    "success_rate_interval_95": [0.3, 0.7],
                    "seeds_reaching_paper_kl": 5,
                    "seeds": 10,
                }
            ],
            0.1,
            ax=ax,
        ),
        lambda ax: plotting.sweep_figure(
            [{"status": "ok", "seed": 0, "kl_data_model_bits": 0.2, "examples": 10}],
            ["examples"],
            "t",
            "kl_data_model_bits",
            ax=ax,
        ),
    ],
)
def test_a_figure_of_one_axes_draws_on_the_axes_it_is_given(draw):
    fig, ax = plt.subplots()
    assert draw(ax) is fig
    assert ax.lines or ax.collections


def test_a_figure_of_several_axes_draws_in_the_figure_it_is_given():
    c = hm.load_circuit("bars")
    p = hm.Parameters.initial(c)
    seen = [0, 10, 100]
    for draw in (
        lambda fig: plotting.bars_generative_weights(p, fig=fig),
        lambda fig: plotting.weight_evolution(seen, _history(c, seen), c, fig=fig),
        lambda fig: plotting.samples_and_fantasies(np.zeros((4, 16)), np.ones((4, 16)), 4, fig=fig),
    ):
        fig = plt.figure()
        assert draw(fig) is fig and fig.axes
