# ruff: noqa: F821  (load_results comes from results_omniglot.py, included before this file)
# Real Omniglot: 10 test characters of the MAML split, decoded straight from the official PNGs
# (no cache), and a learner with no training at all: nearest class mean on raw 28x28 pixels.
# Beside it, the project's trained models on the same split, read from the committed results.
import claims
import figures
import torch

from reference_impl.evaluation import evaluate_predictor, fixed_episodes
from reference_impl.omniglot import decode_characters, get_split

N_WAY, SHOTS, QUERIES, EPISODES = 5, (1, 2, 5, 10), 10, 200
characters = list(get_split("maml").test[:10])
images = 1 - decode_characters(characters).float().unsqueeze(2) / 255  # (10, 20, 1, 28, 28)


def pixel_prototypes(support_x, support_y, query_x):
    """Logits (N*Q, N): negative squared distance to each class's mean image."""
    n_way = int(support_y.max()) + 1
    prototypes = torch.stack([support_x[support_y == c].mean(0) for c in range(n_way)])
    return -(torch.cdist(query_x.flatten(1), prototypes.flatten(1)) ** 2)


raw = {}  # K -> Interval of the raw-pixel learner
for k_shot in SHOTS:
    episodes = fixed_episodes(images, N_WAY, k_shot, QUERIES, EPISODES, seed=0)
    result = evaluate_predictor(pixel_prototypes, episodes)
    raw[k_shot] = claims.Interval(result.accuracy, result.ci95)

results = load_results()
trained = {  # label -> {K: Interval}, the published 5-way cells of the maml split
    label: {
        k: claims.Interval(r["accuracy"], r["ci95"])
        for k in (1, 5)
        if (r := results.get((method, f"{N_WAY}w{k}s", "maml")))
    }
    for method, label in (
        ("protonet", "ProtoNets, trained"),
        ("maml", "MAML, trained"),
        ("baseline", "transfer baseline, trained"),
    )
}

# The page's sentences, checked against the intervals:
chance = 1 / N_WAY
claims.above(raw[1], chance, "one example per class beats chance without prior knowledge")
claims.below(raw[5], 0.75, "five examples still leave more than a quarter of the queries wrong")
for label, cells in trained.items():
    claims.check(set(cells) == {1, 5}, f"{label}: both published cells are on the page")
    for k, cell in cells.items():
        claims.above(claims.difference(cell, raw[k]), 0, f"{label} beats raw pixels at K = {k}")

series = [
    figures.Series(
        "raw pixels, no prior knowledge",
        SHOTS,
        [raw[k].mean for k in SHOTS],
        ci=[raw[k].ci95 for k in SHOTS],
    ),
    *(
        figures.Series(label, list(cells), [c.mean for c in cells.values()])
        for label, cells in trained.items()
    ),
]
fig = figures.line(
    series,
    x_label="examples per class K (log scale)",
    y_label="5-way query accuracy",
    x_scale="log",
    y_lim=(0, 1.02),
    reference=chance,
    size=(6.0, 3.6),
)
fig.axes[0].get_legend().set_loc("lower right")  # between the chance line and the raw-pixel line
fig.axes[0].get_legend().set_bbox_to_anchor((1.0, 0.24))
rows = [
    [k, f"{raw[k].mean:.1%} ± {raw[k].ci95:.1%}"]
    + [f"{c[k].mean:.2%} ± {c[k].ci95:.2%}" if k in c else "–" for c in trained.values()]
    for k in SHOTS
]
print(
    figures.render(
        fig,
        alt="5-way accuracy on Omniglot test characters against examples per class: nearest class "
        "mean on raw pixels starts near half at one example and stays far below the trained "
        "models, which are close to perfect already at one example.",
        caption=f"Raw pixels: {len(characters)} test characters of the maml split, {EPISODES} "
        f"fixed episodes per K, {QUERIES} queries per class, 95% intervals over episodes. Trained "
        "models: the committed results on all test characters of the same split (reproduction "
        "page), so their episodes differ from the raw-pixel ones.",
        numbers=figures.table(["K", "raw pixels", *trained], rows),
    )
)
