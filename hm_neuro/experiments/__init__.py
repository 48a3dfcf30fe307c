"""The papers' experiments, one module per figure or table.

Each module has parameters first (with the paper's numbers), its
``Settings`` (a frozen dataclass, :mod:`.settings`), a ``main(settings,
**changes)`` that writes its results (JSON) and figures into ``out``, and a
quick mode that CI runs.  Run them with ``hm-neuro reproduce NAME`` or
``hm_neuro.experiments.NAME.main(quick=True, ...)``.

========  ==================================================================
bars      Hinton et al. (1995), Fig. 1: the 4x4 bars problem, 16-8-1
digits    Hinton et al. (1995), Fig. 2: digits classified by description length
nines     Dayan, Fig. 1B: fantasies of a machine trained on '9's
cortex    sleep deprivation, lesions, corrupted inputs, alignment, imagery
rasters   phase-separated spike rasters of one wake-sleep cycle per example
rules     learning rules beyond the papers' on bars (reweighted wake-sleep, ...)
spiking   bars in real time: the spiking realisation, in and away from the bridge limit
precision bars (and digits) with synapses of finite precision: 2-16 bits, nearest or stochastic rounding
lateral   bars beyond the factorial approximation: ordered lateral connections within layers
========  ==================================================================
"""

NAMES = ("bars", "digits", "nines", "cortex", "rasters", "rules", "spiking", "precision", "lateral")
