"""``python experiments/spiking.py [options]`` is ``hm-neuro reproduce spiking [options]``
(the experiment itself: :mod:`hm_neuro.experiments.spiking`)."""

import sys

from hm_neuro.cli import main

if __name__ == "__main__":
    sys.exit(main(["reproduce", "spiking", *sys.argv[1:]]))
