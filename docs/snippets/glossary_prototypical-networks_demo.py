"""Prototypical Networks with `reference_impl.protonet`: the linear-classifier identity, then training.

Part 1 checks, in float64, that prototypes are per-class means, that softmax over negative squared
distances to the prototypes equals the softmax of a linear layer with weights 2 c_k and bias
-|c_k|^2, and that the support order does not matter. Part 2 trains the synthetic preset and
scores the same 100 held-out 5-way 5-shot episodes after 0, 10, 25, 50, 100 and 200 training
episodes, next to nearest-prototype on raw inputs.
"""

import itertools
from dataclasses import replace

import claims
import figures
import torch
from torch import nn

from reference_impl.evaluation import evaluate_predictor
from reference_impl.protonet import (
    ProtoNetConfig,
    build_model,
    make_predict,
    make_sampler,
    prototype_logits,
    prototypes,
    train,
)

# Part 1: three identities in float64.
gen = torch.Generator().manual_seed(0)
support = torch.randn(25, 16, generator=gen, dtype=torch.float64)  # 5-way 5-shot, D = 16
labels = torch.arange(5).repeat_interleave(5)
queries = torch.randn(75, 16, generator=gen, dtype=torch.float64)
c = prototypes(support, labels, n_way=5)  # (5, 16)
by_distance = prototype_logits(queries, c, "sqeuclidean").softmax(-1)
by_linear_layer = (queries @ (2 * c).T - (c**2).sum(-1)).softmax(-1)
shuffled = torch.randperm(25, generator=gen)
identities = {
    "prototypes equal the per-class means": (
        c - torch.stack([support[labels == k].mean(0) for k in range(5)])
    )
    .abs()
    .max(),
    "softmax(−‖q − c_k‖²) equals softmax(2 c_k·q − ‖c_k‖²)": (by_distance - by_linear_layer)
    .abs()
    .max(),
    "prototypes do not depend on the support order": (
        prototypes(support[shuffled], labels[shuffled], n_way=5) - c
    )
    .abs()
    .max(),
}
for claim, gap in identities.items():
    claims.check(gap < 1e-12, claim, f"max |difference| {gap:.1e}")
    print(f"- {claim}: max |difference| {gap:.1e}")

# Part 2: one training run, scored on the same held-out episodes as it goes.
cfg = replace(ProtoNetConfig.synthetic(), train_steps=200)
CHECKPOINTS = (0, 10, 25, 50, 100, 200)
test_cfg = replace(cfg, k_shot=5)
episodes = make_sampler(test_cfg, "test", n_way=5, n_query=15, meta_batch_size=100)(
    torch.Generator().manual_seed(1)
)
episodes = list(zip(*episodes, strict=True))  # 100 single episodes


def per_episode(model: nn.Module) -> list[float]:
    """Accuracy of nearest-prototype on `model`'s embedding, one value per test episode."""
    with torch.no_grad():
        return evaluate_predictor(make_predict(model, cfg), episodes).per_episode


torch.manual_seed(cfg.seed)
model = build_model(cfg)
optimizer = torch.optim.Adam(model.parameters(), lr=cfg.outer_lr)
generator = torch.Generator().manual_seed(cfg.seed)
curve = {0: per_episode(model)}
for start, stop in itertools.pairwise(CHECKPOINTS):
    model, _ = train(
        replace(cfg, train_steps=stop),
        model=model,
        optimizer=optimizer,
        start_episode=start,
        generator=generator,
    )
    curve[stop] = per_episode(model)
raw = per_episode(nn.Flatten())

# The page's sentences, checked against this output (paired: the same 100 episodes):
worse = claims.greater(
    raw, curve[0], "in this example the untrained embedding is worse than raw inputs"
)
better = claims.greater(
    curve[CHECKPOINTS[-1]],
    raw,
    f"in this example {CHECKPOINTS[-1]} training episodes beat raw inputs",
)
final = claims.mean_ci(curve[CHECKPOINTS[-1]])
claims.above(final, 0.95, "in this example the trained rule is close to perfect on new classes")

points = [claims.mean_ci(curve[n]) for n in CHECKPOINTS]
raw_ci = claims.mean_ci(raw)
fig = figures.line(
    [
        figures.Series(
            "learnt embedding", CHECKPOINTS, [p.mean for p in points], ci=[p.ci95 for p in points]
        )
    ],
    x_label="training episodes (20-way 5-shot)",
    y_label="5-way 5-shot query accuracy",
    reference=raw_ci.mean,
    reference_label="raw inputs",
    y_lim=(0, 1.02),
)
print()
print(
    figures.render(
        fig,
        alt="Query accuracy on held-out classes against training episodes: the untrained "
        "embedding starts below the raw-input line, rises above it as training proceeds and "
        "ends close to 1.",
        caption="Nearest-prototype accuracy on the same 100 held-out 5-way 5-shot episodes at "
        "every point (band: 95% confidence interval over episodes); the dotted line is the same "
        "rule on raw inputs. Read where the curve starts (below the line) and where it ends.",
        numbers=figures.table(
            ["training episodes", "query accuracy"],
            [[n, f"{p.mean:.1%} ± {p.ci95:.1%}"] for n, p in zip(CHECKPOINTS, points, strict=True)]
            + [["raw inputs", f"{raw_ci.mean:.1%} ± {raw_ci.ci95:.1%}"]],
        ),
    )
)
print(
    f"Paired over the episodes, the untrained embedding is {100 * worse.mean:.1f} points "
    f"(± {100 * worse.ci95:.1f}) below raw inputs, and after {CHECKPOINTS[-1]} training episodes "
    f"the embedding is {100 * better.mean:.1f} points (± {100 * better.ci95:.1f}) above them."
)
