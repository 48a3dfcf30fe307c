"""``python experiments/rules.py [options]`` is ``hm-neuro reproduce rules [options]``
(the experiment itself: :mod:`hm_neuro.experiments.rules`)."""

import sys

from hm_neuro.cli import main

if __name__ == "__main__":
    sys.exit(main(["reproduce", "rules", *sys.argv[1:]]))
