"""hm_neuro's benchmarks: training throughput, measured side by side in one
run; no test asserts on these times.  One module per suite, the timing cells
shared (:mod:`benchmarks.cells`); every result JSON names the command that
wrote it.  Run them through ``python benchmarks/bench.py`` (its ``--help``
lists the suites); ``streams.py``, ``plasticity.py`` and ``profile.py`` (the
main job before and after the plasticity declarations, with Brian2's
per-code-object profile: ``python -m benchmarks.profile``) are suites of
their own."""
