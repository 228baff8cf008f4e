# ruff: noqa: F821  (torch, data, sample_batch and prototype_accuracy come from
# glossary_n-way-k-shot_clusters.py, included in the same executed block just before this file)
# 5-way 5-shot, 300 episodes: the same learner on the same episodes with a clean support set, with
# some support labels flipped to another class, and with one class left with a single shot. The
# query sets never change, so every comparison with the clean support set is paired.
import claims
import figures

generator = torch.Generator().manual_seed(3)
N_WAY, K_SHOT, FLIPS = 5, 5, (1, 2, 4)
support_x, support_y, query_x, query_y = sample_batch(data, N_WAY, K_SHOT, 10, 300, generator)


def accuracy(sx, sy):
    """Per-episode accuracy (list) of nearest class mean with the given support set."""
    return prototype_accuracy((sx, sy, query_x, query_y), N_WAY).double().tolist()


results = {"clean support set": accuracy(support_x, support_y)}
for flipped in FLIPS:
    noisy_y = support_y.clone()
    noisy_y[:, :flipped] = 1  # the first shots of class 0 are labelled as class 1
    results[f"{flipped} of {N_WAY * K_SHOT} labels wrong"] = accuracy(support_x, noisy_y)
keep = torch.ones(N_WAY * K_SHOT, dtype=torch.bool)
keep[1:K_SHOT] = False  # class 0 keeps a single shot
results["class 0 with 1 shot"] = accuracy(support_x[:, keep], support_y[:, keep])

# The page's sentences, checked against this output with paired intervals over the episodes:
clean = results["clean support set"]
harm = {
    name: claims.paired(clean, values) for name, values in results.items() if values is not clean
}
names = list(harm)
for name in names:
    claims.above(harm[name], 0, f"in this example '{name}' costs accuracy")
claims.increasing([harm[n] for n in names[:3]], "in this example each extra wrong label costs more")
two, four = results[names[1]], results[names[2]]
superlinear = claims.paired(
    [c - f - 2 * (c - t) for c, t, f in zip(clean, two, four, strict=True)], [0.0] * len(clean)
)
claims.above(superlinear, 0, "in this example four wrong labels cost more than twice two")

stats = {name: claims.mean_ci(values) for name, values in results.items()}
fig = figures.intervals(
    [name.replace(" labels", "\nlabels").replace(" with", "\nwith") for name in results],
    [
        figures.Series(
            "nearest class mean",
            range(len(results)),
            [s.mean for s in stats.values()],
            ci=[s.ci95 for s in stats.values()],
        )
    ],
    y_label=f"{N_WAY}-way {K_SHOT}-shot accuracy",
    size=(6.4, 3.0),
)
print(
    figures.render(
        fig,
        alt="Query accuracy with a clean support set, with one, two and four wrong support "
        "labels, and with one class reduced to a single shot: accuracy falls with every wrong "
        "label, steeply at four, and the single-shot class costs accuracy too.",
        caption=f"The same {len(clean)} episodes and query sets at every point; bars are 95% "
        "confidence intervals over episodes. Read the drop from the clean point to each damaged "
        "one; the numbers give the paired drop with its interval.",
        numbers=figures.table(
            ["support set", "accuracy", "drop from clean (paired)"],
            [
                [
                    name,
                    f"{stats[name].mean:.1%} ± {stats[name].ci95:.1%}",
                    f"{harm[name].mean:.1%} ± {harm[name].ci95:.1%}" if name in harm else "",
                ]
                for name in results
            ],
        ),
    )
)
print(
    "Paired drops from the clean support set: "
    + ", ".join(f"{name}: {100 * harm[name].mean:.1f} points" for name in names)
    + "."
)
