"""Runs of many trainings: protocols of cortical-model experiments
(:mod:`.protocol`), tasks on workers and Dask (:mod:`.runner`), sweeps over
grids (:mod:`.sweep`), and the spiking network's own fantasies
(:mod:`.fantasies`)."""
