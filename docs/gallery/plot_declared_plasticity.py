"""
A plasticity rule of your own: weight decay, declared as equations
===================================================================

The papers' delta rule (Hinton et al. 1995, eqs. 4 and 7) moves a synapse by
``eps * s_pre * (s_post - p_post)`` on a learning event.  Here a rule with
weight decay is declared once, as an expression in Brian2's syntax
(:class:`hm_neuro.Plasticity`), and run on the Brian2 circuit (its numpy
target here; ``cpp_standalone`` compiles the same text) -- the same weights
as the NumPy reference, which evaluates the same expression on arrays.  A
strong decay (``lam = 0.003``: at the input's learning rate 0.2 an
unsupported weight halves in ~1,200 learning events) makes the effect
visible after a short run: the weights are smaller, and the ones the data do
not support shrink towards 0.
"""

import matplotlib.pyplot as plt
import numpy as np

import hm_neuro as hm

decay = hm.Plasticity(
    weight="s_pre * (s_post - p_post) - lam * w",  # the delta rule minus weight decay
    bias="s - p",
    constants={"lam": 0.003},
    name="delta rule with weight decay",
)
papers = hm.load_circuit("bars")
declared = papers.replace(plasticity=decay)

runs = {}
for label, circuit, options in [
    ("papers' rule (reference)", papers, {"engine": "numpy"}),
    ("weight decay (Brian2 circuit)", declared, {"engine": "brian2", "device": "numpy", "chunk": 2000}),
    ("weight decay (reference)", declared, {"engine": "numpy"}),
]:
    runs[label] = hm.train(circuit, hm.BarsStream(), 6_000, seed=1, progress=False, **options).params

same = runs["weight decay (Brian2 circuit)"].max_abs_difference(runs["weight decay (reference)"])
print(f"Brian2 circuit against the reference: max difference {same:.1e}")

# %%
# The generative weights into the input (each hidden unit's 4x4 projective
# field), with and without decay, on one colour scale.
fig, axes = plt.subplots(2, 8, figsize=(8, 2.4))
shown = ["papers' rule (reference)", "weight decay (Brian2 circuit)"]
vmax = max(np.abs(runs[k].generative_weights[0]).max() for k in shown)
for row, key in enumerate(shown):
    for j, ax in enumerate(axes[row]):
        ax.imshow(runs[key].generative_weights[0][j].reshape(4, 4), cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[row, 0].set_ylabel(key.split(" (")[0], fontsize=7)
fig.suptitle("generative weights into the input, one block per first-hidden unit", fontsize=9)
plt.show()
