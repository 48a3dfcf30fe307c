"""One seed tree per run: every random stream is a named child of one seed.

A run is seeded by one integer ``seed`` (``--seed``).  Every use of
randomness draws from a *named* child of ``numpy.random.SeedSequence(seed)``,
so that no two streams can coincide and adding a stream shifts no other:

================  =====================================================
child             what it seeds
================  =====================================================
``data``          the training examples (bars sampler, sweep shuffling)
``chunk, c``      the wake-sleep sampling of chunk ``c`` (NumPy generator,
                  Brian2's ``seed()`` or the compiled binary's generator)
``restart, r``    restart ``r`` of a seed (a whole sub-tree; restart 0 is
                  the seed's own tree, so ``hm-neuro train --seed s`` is
                  restart 0 of seed s)
``epoch, i``      epoch ``i`` of a protocol (a sub-tree)
``segment, j``    measurement segment ``j`` within an epoch (a sub-tree)
``lesion``        which synapses a protocol epoch silences
``evaluation``    the sampled measures of a trained machine
``selection``     the fresh training examples a restart is chosen on
``figures``       samples drawn for figures
``machine``       (reserved; numbers are never reused)
``stream``        the machine's key of the counter-based uniform
                  numbers of wake-sleep sampling (:mod:`hm_neuro.philox`;
                  with ``rng='mt19937'`` the ``chunk, c`` children instead)
================  =====================================================

A child is ``SeedSequence(seed, spawn_key=path)`` with ``path`` the tuple of
(name number, index) pairs from the root: distinct paths give independent
streams (NumPy's spawn keys), which entropy lists such as ``[seed, 0]`` do
not guarantee (``SeedSequence([s, 0])`` equals ``SeedSequence([s])``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .errors import bad

#: the named children; numbers are part of the file format of results: never reuse one
CHILDREN = {
    "data": 1,
    "chunk": 2,
    "restart": 3,
    "epoch": 4,
    "segment": 5,
    "lesion": 6,
    "evaluation": 7,
    "selection": 8,
    "figures": 9,
    "machine": 10,
    "stream": 11,
}
#: largest seed accepted (NumPy takes any non-negative integer; a bound keeps files tidy)
MAX_SEED = 2**63 - 1


def check_seed(seed, what: str = "seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise bad(what, f"must be an integer in 0..{MAX_SEED}", seed)
    return int(seed)


@dataclasses.dataclass(frozen=True)
class SeedTree:
    """A node of a run's seed tree: the root ``seed`` and the path to the node."""

    seed: int
    path: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "seed", check_seed(self.seed))

    def child(self, name: str, index: int = 0) -> SeedTree:
        """The named child ``name`` (with ``index`` for numbered ones: chunk c, restart r, ...)."""
        if name not in CHILDREN:
            raise bad("seed tree child", f"unknown name; expected one of {sorted(CHILDREN)}", name)
        return SeedTree(self.seed, self.path + (CHILDREN[name], int(index)))

    def restart(self, r: int) -> SeedTree:
        """Restart ``r`` of this run: itself for r = 0."""
        return self if r == 0 else self.child("restart", r)

    def sequence(self) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.seed, spawn_key=self.path)

    def rng(self) -> np.random.Generator:
        """A NumPy generator for this node."""
        return np.random.default_rng(self.sequence())

    def integer(self) -> int:
        """A 32-bit integer for this node (Brian2's ``seed()``, a compiled binary's generator)."""
        return int(self.sequence().generate_state(1, dtype=np.uint32)[0])

    def key(self) -> int:
        """A 64-bit integer for this node: the key of a counter-based stream (:mod:`hm_neuro.philox`)."""
        return int(self.sequence().generate_state(1, dtype=np.uint64)[0])

    def label(self) -> str:
        """Human-readable path: ``7/restart=2``."""
        names = {v: k for k, v in CHILDREN.items()}
        parts = [str(self.seed)] + [f"{names[n]}={i}" for n, i in zip(self.path[::2], self.path[1::2])]
        return "/".join(parts)


def tree(seed) -> SeedTree:
    """An int -> its root; a SeedTree -> itself."""
    return seed if isinstance(seed, SeedTree) else SeedTree(seed)
