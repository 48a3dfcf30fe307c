"""
Bars: train a Helmholtz machine and look at its fantasies
=========================================================

The bars problem of Hinton et al. (1995), Fig. 1: 4x4 images of vertical
(probability 2/3) or horizontal bars, each bar on with probability 0.2.  A
16-8-1 machine trained by wake-sleep on the NumPy reference; the exact
KL(data || model) by enumerating every hidden state.  (The paper's 2e6
examples: ``hm-neuro reproduce bars``; this short run shows the API.)
"""

import matplotlib.pyplot as plt
import numpy as np

import hm_neuro as hm

circuit = hm.load_circuit("bars")  # 16-8-1 and the learning rates of note [15]
result = hm.train(circuit, hm.BarsStream(), 60_000, seed=3, engine="numpy", progress=False)
patterns, probabilities = hm.bars_distribution()
summary = hm.exact_summary(result.params, patterns, probabilities)
print(
    f"after {result.examples_seen:,} examples: KL(data||model) = {summary['kl_data_model_bits']:.3f} bits "
    f"(paper, after 2e6: 0.10), free energy {summary['free_energy_bits']:.2f} bits"
)

# %%
# Training images (top) and fantasies of the generative model (bottom).
rng = np.random.default_rng(0)
images = hm.sample_bars(8, rng)
fantasies = hm.sample_fantasies(result.params, 8, rng)[0]
fig, axes = plt.subplots(2, 8, figsize=(8, 2.3))
for ax, img in zip(axes.ravel(), np.concatenate([images, fantasies])):
    ax.imshow(img.reshape(4, 4), cmap="gray_r", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
axes[0, 0].set_ylabel("data")
axes[1, 0].set_ylabel("fantasy")
plt.show()
