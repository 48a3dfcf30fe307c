"""hm_neuro: the Helmholtz machine and wake-sleep learning as a Brian2 circuit."""

__version__ = "0.1.0"
