"""``python -m hm_neuro.cli``."""

import sys

from .main import main

sys.exit(main())
