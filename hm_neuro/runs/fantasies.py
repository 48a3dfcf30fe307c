"""Fantasies of the spiking network itself (learning off)."""

from __future__ import annotations

import numpy as np

from ..engines import make_engine
from ..model import Circuit, Spiking


def sampled_fantasies(
    params_list: list,
    circuit: Circuit,
    spiking: Spiking,
    n: int,
    seed: int = 0,
    device: str | None = None,
    all_layers: bool = False,
) -> list:
    """``n`` fantasies of each machine *as the spiking network produces them*
    (learning off, one population): per machine an ``(n, n_input)`` array of
    the input layer's sleep-window states (``all_layers``: a list of every
    layer's, input first).  In the bridge limit these are samples of the
    binary generative model (eqs. 2-3); away from it, of what the spiking
    circuit actually generates with the same weights.  Many fantasies of one
    machine are fastest as a population of its copies (``[params] * M``,
    ``n = 1``)."""
    N = len(params_list)
    zeros = np.zeros(n)
    with make_engine(
        circuit, "spiking", device=device, chunk=n, n_machines=N, record_spikes=True, spiking=spiking
    ) as eng:
        _, extras = eng.run_population(
            list(params_list),
            [np.zeros((n, circuit.n_input))] * N,
            [seed + k for k in range(N)],
            [zeros] * N,
            [zeros] * N,
        )
    return [e["sleep"] if all_layers else e["sleep"][0] for e in extras]  # the states of each sleep window
