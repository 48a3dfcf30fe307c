"""``python experiments/rasters.py [options]`` is ``hm-neuro reproduce rasters [options]``
(the experiment itself: :mod:`hm_neuro.experiments.rasters`)."""

import sys

from hm_neuro.cli import main

if __name__ == "__main__":
    sys.exit(main(["reproduce", "rasters", *sys.argv[1:]]))
