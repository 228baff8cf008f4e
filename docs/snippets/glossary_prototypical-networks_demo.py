"""Prototypical Networks with `reference_impl.protonet`: the linear-classifier identity, then training.

Part 1 checks, in float64, that softmax over negative squared distances to the prototypes equals
the softmax of a linear layer with weights 2 c_k and bias -|c_k|^2. Part 2 trains the synthetic
preset for 200 episodes and scores 5-way 5-shot episodes of held-out classes with the learnt
embedding, an untrained one, and raw inputs.
"""

from dataclasses import replace

import torch
from torch import nn

from reference_impl.protonet import (
    ProtoNetConfig,
    build_model,
    evaluate,
    prototype_logits,
    prototypes,
    train,
)

gen = torch.Generator().manual_seed(0)
support = torch.randn(25, 16, generator=gen, dtype=torch.float64)  # 5-way 5-shot, D = 16
labels = torch.arange(5).repeat_interleave(5)
queries = torch.randn(75, 16, generator=gen, dtype=torch.float64)
c = prototypes(support, labels, n_way=5)  # (5, 16)
by_distance = prototype_logits(queries, c, "sqeuclidean").softmax(-1)
by_linear_layer = (queries @ (2 * c).T - (c**2).sum(-1)).softmax(-1)
mean_gap = (c - torch.stack([support[labels == k].mean(0) for k in range(5)])).abs().max()
print(f"prototypes vs per-class means, max |difference|: {mean_gap:.1e}")
print(
    f"softmax(-|q - c_k|^2) vs softmax(2 c_k.q - |c_k|^2): {(by_distance - by_linear_layer).abs().max():.1e}"
)
shuffled = torch.randperm(25, generator=gen)
reordered = prototypes(support[shuffled], labels[shuffled], n_way=5)
print(
    f"prototypes after shuffling the support set, max |difference|: {(reordered - c).abs().max():.1e}"
)

cfg = replace(ProtoNetConfig.synthetic(), train_steps=200, test_episodes=100)
model, losses = train(cfg)
torch.manual_seed(1)
scores = {
    "learnt embedding": evaluate(model, cfg),
    "untrained embedding": evaluate(build_model(cfg), cfg),
    "raw inputs": evaluate(nn.Flatten(), cfg),
}
print(
    f"\ntraining: {cfg.n_way}-way {cfg.k_shot}-shot episodes, loss {losses[0]:.2f} -> "
    f"{sum(losses[-10:]) / 10:.2f} (mean of last 10) after {cfg.train_steps} episodes"
)
print(
    f"test: {cfg.test_n_way}-way {cfg.k_shot}-shot, {cfg.test_episodes} episodes of unseen classes"
)
for name, result in scores.items():
    print(f"  {name:<20} {100 * result['accuracy']:5.1f}% ± {100 * result['ci95']:.1f}")
