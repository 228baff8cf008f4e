"""What a learned representation keeps and discards, layer by layer, in the reference baseline.

The synthetic domain of `reference_impl.baseline` builds an input as x = M [z; u]: class signal z
in 8 dimensions, class-independent nuisance u in 24 dimensions with twice the spread, M a fixed
rotation. After supervised pretraining on 64 classes we read the network at each depth and ask
(1) how much of the change in the representation comes from the nuisance u rather than from the
signal z, and (2) how well a 1-shot cosine nearest-mean head works on classes seen in pretraining
and on unseen classes.
"""

import torch
from torch import nn

from reference_impl.baseline import (
    BaselineConfig,
    BaselineNet,
    evaluate,
    make_world,
    sample_points,
    sample_tasks,
    train,
)

cfg = BaselineConfig()
torch.manual_seed(0)
model, _ = train(cfg)
mixing, centres = make_world(cfg)
gen = torch.Generator().manual_seed(3)
signal_dim, nuisance_dim = cfg.latent_dim, cfg.x_dim - cfg.latent_dim


def signal(n: int) -> torch.Tensor:
    """Latent class signal z of n examples: a class centre plus within-class spread."""
    return torch.randn(n, signal_dim, generator=gen) * (1 + cfg.cluster_std**2) ** 0.5


def nuisance(n: int) -> torch.Tensor:
    """Class-independent nuisance u of n examples."""
    return cfg.nuisance_std * torch.randn(n, nuisance_dim, generator=gen)


# Base points, and the same points with only z (or only u) redrawn.
z0, u0 = signal(500), nuisance(500)
x0 = torch.cat([z0, u0], 1) @ mixing.T
x_new_signal = torch.cat([signal(500), u0], 1) @ mixing.T
x_new_nuisance = torch.cat([z0, nuisance(500)], 1) @ mixing.T


def seen_class_episodes(num_episodes: int, g: torch.Generator) -> tuple[torch.Tensor, ...]:
    """5-way 1-shot episodes (15 queries per class) drawn from the 64 pretraining classes."""
    classes = torch.rand(num_episodes, cfg.num_classes, generator=g).argsort(1)[:, :5]
    x = sample_points(centres[classes.flatten()], 16, mixing, cfg, g)  # (E*5, 16, D)
    x = x.reshape(num_episodes, 5, 16, -1)
    support_y = torch.arange(5).expand(num_episodes, -1)
    query_y = torch.arange(5).repeat_interleave(15).expand(num_episodes, -1)
    return x[:, :, 0], support_y, x[:, :, 1:].flatten(1, 2), query_y


episodes = {
    "seen": seen_class_episodes(100, torch.Generator().manual_seed(2)),
    "unseen": sample_tasks(cfg, (mixing, centres), 100, torch.Generator().manual_seed(1)),
}
depths = {
    "raw input x": nn.Identity(),
    "hidden layer 1": model.embed[:2],
    "features (layer 2)": model.embed,
    "pretraining logits": nn.Sequential(model.embed, model.classifier),
}
print("nuisance share = E|f(z, u') - f(z, u)|^2 / (that + E|f(z', u) - f(z, u)|^2)")
print(
    f"{'representation':<20} {'dim':>4} {'nuisance share':>15} {'1-shot, seen':>13} {'unseen':>12}"
)
with torch.no_grad():
    for name, f in depths.items():
        base = f(x0)
        from_signal = (f(x_new_signal) - base).pow(2).sum(1).mean()
        from_nuisance = (f(x_new_nuisance) - base).pow(2).sum(1).mean()
        share = from_nuisance / (from_nuisance + from_signal)
        head = BaselineNet(f, feature_dim=1, num_classes=1)  # only .embed is used by the head
        acc = {k: evaluate(head, cfg, e) for k, e in episodes.items()}
        cells = [f"{100 * a['accuracy']:.1f} ± {100 * a['ci95']:.1f}" for a in acc.values()]
        print(f"{name:<20} {base.shape[1]:>4} {share:>15.2f} {cells[0]:>13} {cells[1]:>12}")
