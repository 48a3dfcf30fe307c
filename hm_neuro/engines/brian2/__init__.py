"""The Helmholtz machine as a Brian2 circuit.

One Brian2 time step is one training example.  Every layer is a
``NeuronGroup`` of binary stochastic units; every pair of adjacent layers is
joined by two separate ``Synapses``: a bottom-up *recognition* set and a
top-down *generative* set.  The *phase controller* (:class:`.binary.Phases`)
places all operations of one example in the ``start`` slot of the step and
orders them::

    =====  ===========================================================  =========
    order  operation                                                    paper
    =====  ===========================================================  =========
    wake   clamp ``d`` on layer 0; per hidden layer: summed recognition   eq. 1
           input, ``q = sigma(r + x)``, ``s_wake = [u < q]``
    wake   generative input from the wake sample; ``p = sigma(g + x)``;   eq. 4
    learn  ``g += eps (s - p)``; ``G += eps s_pre (s_post - p_post)``
    sleep  top layer ``p = sigma(g)``; downwards: summed generative       eq. 1
           input, ``s_sleep = [u < p]`` -- the fantasy
    sleep  recognition input from the fantasy; ``q = sigma(r + x)``;      eq. 7
    learn  ``r += eps (s - q)``; ``R += eps s_pre (s_post - q_post)``
    =====  ===========================================================  =========

The postsynaptic factor of each delta rule, ``eps * gate * (s - p)``, is
computed once per unit with its bias update, so a synapse's update is that
factor times its presynaptic state.  With summed propagation the generative
synapses ``G_k`` make two passes per example, not three: nothing reads them
between the wake phase and the moment the fantasy reaches layer k + 1, so
they apply their wake update there and carry the fantasy down in the same
code (bit for bit the order above).

A whole training run (or a chunk of it) is ONE ``run()`` call.  Learning
is gated per example by the ``TimedArray`` objects ``wake_gate(t)`` and
``sleep_gate(t)`` (1 = learn, 0 = sample only), which is how wake-only,
sleep-only and frozen epochs are expressed.  A unit that is on in the wake
phase emits a ``wake`` event, one that is on in the fantasy a ``sleep``
event, so ``EventMonitor(layer, 'wake')`` records perception rasters
and ``'sleep'`` dream rasters.

Devices: ``numpy`` and ``cython`` (runtime, for tests and debugging) and
``cpp_standalone`` (compiled once per circuit shape and chunk length, then
re-run with new data, weights, learning rates and seed through ``run_args``).

Modules: :mod:`.device` (Brian2's device, clocks, the compiler), :mod:`.cache`
(the build cache), :mod:`.code` (the models' equations and code),
:mod:`.population` (what the binary and spiking networks share),
:mod:`.binary`, :mod:`.spiking`, and :mod:`.engine`.  Importing this package
does not import Brian2.
"""
