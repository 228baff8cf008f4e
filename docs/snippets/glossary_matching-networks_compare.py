# ruff: noqa: F821  (matching_probabilities, prototype_probabilities and matching_nll come from
# glossary_matching-networks_rule.py, included in the same executed block just before this file)
# Matching Networks' attention rule against the class-mean rule of Prototypical Networks, with the
# same similarity (negative squared Euclidean distance) on raw features, on two families of
# synthetic classes: one Gaussian blob per class, or two blobs per class (a class that "looks two
# ways"). 300 episodes per cell, 5-way, 10 queries per class; the two rules see the same episodes.
import claims
import figures
import torch

from reference_impl.episodes import sample_batch

N_WAY, SHOTS, QUERIES, EPISODES, DIM = 5, (1, 2, 5, 10), 10, 300, 16
data_generator = torch.Generator().manual_seed(0)
centres = torch.randn(200, 2, DIM, generator=data_generator)  # (classes, modes, D)
mode = torch.randint(0, 2, (200, 40), generator=data_generator)  # which blob each example is in
one_blob = centres[:, :1] + 0.8 * torch.randn(200, 40, DIM, generator=data_generator)
two_blobs = centres[torch.arange(200).unsqueeze(1), mode]  # (200, 40, D): each example's blob
two_blobs = two_blobs + 0.5 * torch.randn(200, 40, DIM, generator=data_generator)
datasets = {"one blob per class": one_blob, "two blobs per class": two_blobs}

accuracy = {}  # (family, rule, K) -> per-episode accuracies
nll = {}  # (family, rule, K) -> mean query negative log-likelihood
for family, data in datasets.items():
    for k_shot in SHOTS:
        support_x, support_y, query_x, query_y = sample_batch(
            data, N_WAY, k_shot, QUERIES, EPISODES, torch.Generator().manual_seed(1)
        )
        rules = {
            "attention": matching_probabilities(
                query_x, support_x, support_y, N_WAY, similarity="sq_euclidean"
            ),
            "prototypes": prototype_probabilities(query_x, support_x, support_y, N_WAY),
        }
        for rule, probabilities in rules.items():  # (T, N*Q, N)
            hits = probabilities.argmax(-1) == query_y  # (T, N*Q)
            accuracy[family, rule, k_shot] = hits.double().mean(-1).tolist()
            nll[family, rule, k_shot] = matching_nll(probabilities, query_y).item()

# The page's sentences, checked against this output (paired over the same episodes):
for family in datasets:
    claims.check(
        accuracy[family, "attention", 1] == accuracy[family, "prototypes", 1],
        f"with one shot the two rules predict the same labels ({family})",
    )
margin = {}  # (family, K) -> paired difference attention - prototypes
for k_shot in SHOTS[1:]:
    margin["two", k_shot] = claims.greater(
        accuracy["two blobs per class", "attention", k_shot],
        accuracy["two blobs per class", "prototypes", k_shot],
        f"attention beats class means on two-blob classes at K = {k_shot}",
    )
    margin["one", k_shot] = claims.greater(
        accuracy["one blob per class", "prototypes", k_shot],
        accuracy["one blob per class", "attention", k_shot],
        f"class means beat attention on one-blob classes at K = {k_shot}",
    )

cells = {key: claims.mean_ci(values) for key, values in accuracy.items()}
series = [
    figures.Series(
        f"{rule}, {family}",
        SHOTS,
        [cells[family, rule, k].mean for k in SHOTS],
        ci=[cells[family, rule, k].ci95 for k in SHOTS],
    )
    for family in datasets
    for rule in ("attention", "prototypes")
]
fig = figures.line(
    series,
    x_label="shots per class K (log scale)",
    y_label="query accuracy",
    x_scale="log",
    size=(6.0, 3.6),
)
rows = [
    [
        k,
        *(f"{cells[f, r, k].mean:.1%} ± {cells[f, r, k].ci95:.1%}" for f in datasets
          for r in ("attention", "prototypes")),
        *(f"{nll[f, r, k]:.2f}" for f in datasets for r in ("attention", "prototypes")),
    ]
    for k in SHOTS
]  # fmt: skip
headers = [
    "K",
    *(f"{r} accuracy, {f}" for f in datasets for r in ("attention", "prototypes")),
    *(f"{r} NLL, {f}" for f in datasets for r in ("attention", "prototypes")),
]
print(
    figures.render(
        fig,
        alt="Query accuracy against shots per class for Matching Networks' attention and for "
        "class means, on classes made of one blob and of two blobs: on two-blob classes "
        "attention is above class means from two shots on, on one-blob classes it is below.",
        caption=f"{N_WAY}-way episodes on raw features, {EPISODES} episodes per point, "
        f"{QUERIES} queries per class; bands are 95% confidence intervals over episodes. At one "
        "shot the two rules coincide.",
        numbers=figures.table(headers, rows),
    )
)
print(
    "Paired difference in accuracy, same episodes (95% CI): "
    + "; ".join(
        f"K = {k}: attention − class means {margin['two', k].mean:+.1%} ± "
        f"{margin['two', k].ci95:.1%} on two-blob classes, "
        f"{-margin['one', k].mean:+.1%} ± {margin['one', k].ci95:.1%} on one-blob classes"
        for k in SHOTS[1:]
    )
    + "."
)
