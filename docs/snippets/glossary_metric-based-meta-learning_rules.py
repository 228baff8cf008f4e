"""Metric-based rules on one embedding: what the metric and the aggregation change, and what they don't.

One Prototypical-Network embedding (`reference_impl.protonet`, synthetic preset, 200 training
episodes) and raw inputs are scored with four test-time rules on the same 200 held-out 5-way
episodes: prototype + squared Euclidean (the ProtoNet rule), prototype + cosine, nearest support
example (1-NN), and Matching-Networks-style attention (softmax over cosine similarities to every
support example, summed per class, without context embeddings).
"""

from dataclasses import replace

import torch
import torch.nn.functional as F

from reference_impl.protonet import (
    ProtoNetConfig,
    make_sampler,
    prototype_logits,
    prototypes,
    train,
)
from reference_impl.signals import paired_difference

cfg = replace(ProtoNetConfig.synthetic(), train_steps=200)
model, _ = train(cfg)


def rule_scores(z_support, support_y, z_query, n_way):
    """Class scores `(N*Q, N)` of the four rules for one episode's embeddings."""
    one_hot = F.one_hot(support_y, n_way).to(z_support.dtype)  # (N*K, N)
    c = prototypes(z_support, support_y, n_way)  # (N, D)
    sq_dist = torch.cdist(z_query, z_support) ** 2  # (N*Q, N*K)
    nearest = one_hot[sq_dist.argmin(-1)]  # vote of the closest support example
    cosine = F.normalize(z_query, dim=-1) @ F.normalize(z_support, dim=-1).T  # (N*Q, N*K)
    return {
        "prototype, sq. Euclidean": prototype_logits(z_query, c, "sqeuclidean"),
        "prototype, cosine": prototype_logits(z_query, c, "cosine"),
        "nearest neighbour": nearest,
        "attention (cosine)": cosine.softmax(-1) @ one_hot,
    }


accuracy = {}  # (rule, features, K) -> list of per-episode accuracies
with torch.no_grad():
    for k_shot in (1, 5):
        sampler = make_sampler(
            replace(cfg, k_shot=k_shot), "test", n_way=5, n_query=15, meta_batch_size=200
        )
        support_x, support_y, query_x, query_y = sampler(torch.Generator().manual_seed(1))
        for features, f in (("raw", lambda x: x), ("learnt", model)):
            z_support, z_query = f(support_x), f(query_x)  # MLP, no BatchNorm: batch freely
            for t in range(support_x.shape[0]):
                scores = rule_scores(z_support[t], support_y[t], z_query[t], 5)
                for rule, s in scores.items():
                    hit = (s.argmax(-1) == query_y[t]).double().mean().item()
                    accuracy.setdefault((rule, features, k_shot), []).append(hit)

print("5-way accuracy (%) on 200 episodes of held-out classes")
print(
    f"{'rule':<26} {'raw, 1-shot':>11} {'learnt, 1-shot':>14} {'raw, 5-shot':>11} {'learnt, 5-shot':>14}"
)
for rule in (
    "prototype, sq. Euclidean",
    "prototype, cosine",
    "nearest neighbour",
    "attention (cosine)",
):
    cells = [
        sum(a) / len(a) * 100
        for a in (accuracy[(rule, f, k)] for k in (1, 5) for f in ("raw", "learnt"))
    ]
    print(f"{rule:<26} {cells[0]:11.1f} {cells[1]:14.1f} {cells[2]:11.1f} {cells[3]:14.1f}")

base = accuracy[("prototype, sq. Euclidean", "learnt", 5)]
for rule in ("nearest neighbour", "attention (cosine)"):
    d = paired_difference(accuracy[(rule, "learnt", 5)], base)
    print(
        f"learnt, 5-shot, {rule} - prototype rule: {100 * d.mean:+.1f} points"
        f" (paired CI95 {100 * d.low:+.1f} to {100 * d.high:+.1f})"
    )
