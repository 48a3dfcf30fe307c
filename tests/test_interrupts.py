"""Ctrl-C and SIGTERM are a flag raised at the training loop's safe point
(:mod:`hm_neuro.interrupts`): none is lost, whatever the moment it lands."""

import os
import random
import signal
import threading

import numpy as np
import pytest
from conftest import backends, make_circuit

from hm_neuro import interrupts
from hm_neuro.engines import make_engine
from hm_neuro.training import BarsStream, Checkpointing, Interrupted, train


@pytest.mark.parametrize("options", backends("brian2", compiled=True, without="spiking"))
def test_twenty_signals_at_random_moments_are_never_lost(options):
    """20 SIGINT/SIGTERM sent at random moments into trainings that would
    otherwise run for minutes: each one ends its training with an
    interrupt, and the engine trains on afterwards.  (Before: on Brian2's
    numpy device 4 of 15 landed in a weakref callback of Brian2's, were
    dropped, and the run trained to the end.)"""
    assert threading.current_thread() is threading.main_thread()
    circuit = make_circuit([4, 3, 2])
    moments = random.Random(7)
    interrupted, received = [], []
    with make_engine(circuit, chunk=500, **options) as eng:
        for i in range(20):
            sig = moments.choice([signal.SIGINT, signal.SIGTERM])
            threading.Timer(moments.uniform(0, 0.3), os.kill, (os.getpid(), sig)).start()
            interrupts.reset()
            try:
                train(circuit, BarsStream(size=2), 10_000_000, seed=i, engine=eng, progress=False)
            except KeyboardInterrupt:
                interrupted.append(i)
            received.append(interrupts.received == [sig])
        result = train(circuit, BarsStream(size=2), 1000, seed=0, engine=eng, progress=False)
    assert interrupted == list(range(20)) and all(received)  # none lost: each training ended by its signal
    assert result.examples_seen == 1000 and np.all(np.isfinite(result.params.recognition_weights[0]))


def test_a_signal_while_a_chunk_runs_checkpoints_the_last_complete_chunk(tmp_path):
    """The chunk a signal ends early is discarded: the checkpoint holds the
    last complete chunk, and resuming from it gives the uninterrupted
    weights exactly (the reference engine looks at the flag every 1024 examples)."""
    circuit = make_circuit([4, 3, 2])
    taken = []

    class Stream(BarsStream):
        def take(self, n, rng):  # the signal arrives while the third chunk trains
            taken.append(n)
            if len(taken) == 3:
                threading.Timer(0.02, os.kill, (os.getpid(), signal.SIGINT)).start()
            return super().take(n, rng)

    def run(stream, resume=False):
        ckpt = Checkpointing(tmp_path / "c.npz", resume=resume)
        return train(circuit, stream, 20_000, seed=1, engine="numpy", chunk=2000, checkpoint=ckpt, progress=False)

    with pytest.raises(Interrupted, match=r"interrupted after 4000 examples; checkpoint saved"):
        run(Stream(size=2))
    resumed = run(BarsStream(size=2), resume=True)
    whole = train(circuit, BarsStream(size=2), 20_000, seed=1, engine="numpy", chunk=2000, progress=False)
    assert resumed.examples_seen == 20_000
    for a, b in zip(resumed.params.arrays().values(), whole.params.arrays().values()):
        np.testing.assert_array_equal(a, b)
