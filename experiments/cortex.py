"""``python experiments/cortex.py [options]`` is ``hm-neuro reproduce cortex [options]``
(the experiment itself: :mod:`hm_neuro.experiments.cortex`)."""

import sys

from hm_neuro.cli import main

if __name__ == "__main__":
    sys.exit(main(["reproduce", "cortex", *sys.argv[1:]]))
