"""Breadth of pretraining data vs few-shot accuracy on new classes, at a fixed training budget.

Five copies of the reference baseline network (`reference_impl.baseline.build_model`) are trained
at once, as one batched computation on their stacked parameters, for the same number of steps of
the same batch size; they differ only in how broad their pretraining data is: 2 to 256 classes of domain A,
or 64 classes split evenly between domains A and B (two mixing matrices of the baseline's
synthetic world). Each is then scored 1-shot 5-way on unseen classes of both domains.
"""

import claims
import figures
import torch
import torch.nn.functional as F
from torch.func import stack_module_state

from reference_impl.baseline import (
    BaselineConfig,
    build_model,
    evaluate,
    make_predict,
    make_world,
    sample_points,
    sample_tasks,
)

STEPS, BATCH, LR = 120, 128, 5e-3
cfg = BaselineConfig(num_classes=256)  # one output width for all; unused classes get no labels
world_a, world_b = make_world(cfg), make_world(BaselineConfig(num_classes=256, world_seed=1))
recipes = {  # name -> list of (world, number of classes) sharing the batch equally
    "2 classes, A": [(world_a, 2)],
    "8 classes, A": [(world_a, 8)],
    "64 classes, A": [(world_a, 64)],
    "256 classes, A": [(world_a, 256)],
    "32 A + 32 B": [(world_a, 32), (world_b, 32)],
}

torch.manual_seed(0)
models = [build_model(cfg) for _ in recipes]
params, _ = stack_module_state(models)  # every tensor gets a leading model dimension


def batch_loss(p, x, y):
    """Summed pretraining cross-entropy of all models; `p` is the stacked `state_dict`."""
    h = torch.relu(torch.baddbmm(p["embed.0.bias"][:, None], x, p["embed.0.weight"].mT))
    h = torch.relu(torch.baddbmm(p["embed.2.bias"][:, None], h, p["embed.2.weight"].mT))
    logits = torch.baddbmm(p["classifier.bias"][:, None], h, p["classifier.weight"].mT)
    return F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum") / y.shape[1]


def sample_data(recipe, g):
    """All STEPS pretraining batches of one recipe, drawn equally from its (world, classes)."""
    xs, ys, offset = [], [], 0
    per_source = BATCH // len(recipe)
    for (mixing, centres), n_classes in recipe:
        y = torch.randint(n_classes, (STEPS * per_source,), generator=g)
        xs.append(sample_points(centres[y], 1, mixing, cfg, g).view(STEPS, per_source, -1))
        ys.append((y + offset).view(STEPS, per_source))  # each domain has its own labels
        offset += n_classes
    return torch.cat(xs, dim=1), torch.cat(ys, dim=1)  # (STEPS, BATCH, D), (STEPS, BATCH)


gen = torch.Generator().manual_seed(0)
data = [sample_data(r, gen) for r in recipes.values()]
inputs = torch.stack([x for x, _ in data], dim=1)  # (STEPS, models, BATCH, D)
labels = torch.stack([y for _, y in data], dim=1)  # (STEPS, models, BATCH)
leaves = list(params.values())
m1 = [torch.zeros_like(p) for p in leaves]
m2 = [torch.zeros_like(p) for p in leaves]
for step in range(1, STEPS + 1):
    loss = batch_loss(params, inputs[step - 1], labels[step - 1])
    grads = torch.autograd.grad(loss, leaves)
    with torch.no_grad():  # Adam, written out so each model's update is its own
        for p, g, u, v in zip(leaves, grads, m1, m2, strict=True):
            u.mul_(0.9).add_(g, alpha=0.1)
            v.mul_(0.999).addcmul_(g, g, value=0.001)
            p.sub_(LR * (u / (1 - 0.9**step)) / ((v / (1 - 0.999**step)).sqrt() + 1e-8))

episodes = {
    "A": sample_tasks(cfg, world_a, 60, torch.Generator().manual_seed(1)),
    "B": sample_tasks(cfg, world_b, 60, torch.Generator().manual_seed(1)),
}
accuracy = {}  # (recipe, domain) -> per-episode accuracies on unseen classes
for i, name in enumerate(recipes):
    models[i].load_state_dict({k: v[i].detach() for k, v in params.items()})
    predict = make_predict(models[i], cfg)
    for domain, eps in episodes.items():
        accuracy[name, domain] = [
            (predict(sx, sy, qx).argmax(-1) == qy).double().mean().item()
            for sx, sy, qx, qy in zip(*eps, strict=True)
        ]
        reference = evaluate(models[i], cfg, eps)["accuracy"]  # the package's own scoring
        claims.check(abs(sum(accuracy[name, domain]) / len(eps[0]) - reference) < 1e-9, "scoring")
ci = {key: claims.mean_ci(values) for key, values in accuracy.items()}

# The page's sentences, as paired differences on the same episodes:
two, eight, many, most, mixed = recipes
SAME = 0.05  # "adds little": the paired interval lies within this many accuracy points (fraction)
chance = 1 / cfg.n_way
claims.greater(accuracy[eight, "A"], accuracy[two, "A"], "8 classes beat 2 on A")
claims.greater(accuracy[many, "A"], accuracy[eight, "A"], "64 classes beat 8 on A")
extra = claims.paired(accuracy[most, "A"], accuracy[many, "A"])
claims.check(-SAME < extra.low and extra.high < SAME, "256 classes add little over 64", str(extra))
for name in (two, eight, many, most):
    claims.below(ci[name, "B"], chance + 0.1, f"{name}: near chance on B")
    claims.greater(accuracy[mixed, "B"], accuracy[name, "B"], f"only A + B works on B ({name})")
claims.greater(
    accuracy[many, "A"], accuracy[mixed, "A"], "the A + B model is below the A specialist on A"
)

categories = [name.replace(", A", " of A") for name in recipes]
series = [
    figures.Series(
        f"unseen classes of domain {domain}",
        range(len(recipes)),
        [ci[name, domain].mean for name in recipes],
        ci=[ci[name, domain].ci95 for name in recipes],
    )
    for domain in episodes
]
fig = figures.intervals(
    categories,
    series,
    y_label="1-shot 5-way accuracy",
    y_lim=(0, 1),
    reference=chance,
    size=(6.8, 3.4),
)
fig.axes[0].get_legend().set_loc("upper left")  # above the 2-class network, where nothing is
rows = [
    [name, *(f"{ci[name, d].mean:.1%} ± {ci[name, d].ci95:.1%}" for d in episodes)]
    for name in recipes
]
print(
    figures.render(
        fig,
        alt="Few-shot accuracy on unseen classes of two domains for five networks that differ only "
        "in their pretraining data: accuracy on domain A rises with the number of A classes and "
        "levels off; every A-only network is near chance on domain B; the network pretrained on "
        "both domains works on both but is below the A specialists on A.",
        caption=f"Same network and budget ({STEPS} Adam steps of {BATCH} examples) for every "
        f"pretraining recipe; {len(episodes['A'][0])} episodes per domain, the same for every "
        "network; bars are 95% intervals over episodes (the page's statements use differences "
        "paired by episode).",
        numbers=figures.table(["pretraining data", *(f"domain {d}" for d in episodes)], rows),
    )
)
