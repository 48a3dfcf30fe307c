"""``python experiments/digits.py [options]`` is ``hm-neuro reproduce digits [options]``
(the experiment itself: :mod:`hm_neuro.experiments.digits`)."""

import sys

from hm_neuro.cli import main

if __name__ == "__main__":
    sys.exit(main(["reproduce", "digits", *sys.argv[1:]]))
