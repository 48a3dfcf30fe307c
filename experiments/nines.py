"""``python experiments/nines.py [options]`` is ``hm-neuro reproduce nines [options]``
(the experiment itself: :mod:`hm_neuro.experiments.nines`)."""

import sys

from hm_neuro.cli import main

if __name__ == "__main__":
    sys.exit(main(["reproduce", "nines", *sys.argv[1:]]))
