"""``python experiments/bars.py [options]`` is ``hm-neuro reproduce bars [options]``
(the experiment itself: :mod:`hm_neuro.experiments.bars`)."""

import sys

from hm_neuro.cli import main

if __name__ == "__main__":
    sys.exit(main(["reproduce", "bars", *sys.argv[1:]]))
