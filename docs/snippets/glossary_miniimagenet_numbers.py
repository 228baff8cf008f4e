# ruff: noqa: F821  (SPLITS, the class-overlap counts, implied_episode_std, query_std, episode_std,
# half_width, flip_probability and simulate_flips come from glossary_miniimagenet_protocol.py,
# included in the same executed block just before this file)
# What a reported miniImageNet number means: the splits behind it, the per-episode spread its
# interval implies, and how often a fresh evaluation would swap two methods with a small gap.
import claims
import figures
import torch

# 5-way miniImageNet rows (Ravi & Larochelle split, 600 test episodes, +- is a 95% interval),
# verified in ../shared/REFERENCES.md: MAML (Finn et al. 2017, Table 1) and ProtoNets (Snell et
# al. 2017, Table 2). Queries per class at test in the MAML code (cbfinn/maml main.py @ a7f45f1):
# DataGenerator(update_batch_size * 2), i.e. K support and K query images per class.
N_WAY, EPISODES = 5, 600
REPORTED = {  # (method, K) -> (accuracy, half-width), as fractions
    ("MAML", 1): (0.4870, 0.0184),
    ("MAML", 5): (0.6311, 0.0092),
    ("ProtoNets", 1): (0.4942, 0.0078),
    ("ProtoNets", 5): (0.6820, 0.0066),
}
MAML_TEST_QUERIES = {1: 1, 5: 5}  # per class, K -> K

mini = [s for s in SPLITS if s.benchmark == "miniImageNet"]
tiered = [s for s in SPLITS if s.benchmark == "tieredImageNet"]
implied = {key: implied_episode_std(hw, EPISODES) for key, (_, hw) in REPORTED.items()}
maml_query = {k: query_std(REPORTED["MAML", k][0], N_WAY * q) for k, q in MAML_TEST_QUERIES.items()}
spread = implied["MAML", 1] ** 2 - maml_query[1] ** 2
task_spread = max(spread, 0.0) ** 0.5  # the part of MAML's 1-shot spread queries do not explain
gap = REPORTED["ProtoNets", 1][0] - REPORTED["MAML", 1][0]
flip = flip_probability(gap, implied["ProtoNets", 1], implied["MAML", 1], EPISODES)

# The page's sentences, checked against these numbers:
claims.check(all(s.train + s.val + s.test == 100 for s in mini),
             "both miniImageNet split files partition 100 classes")  # fmt: skip
claims.check(tiered[0].train + tiered[0].val + tiered[0].test == 608,
             "tieredImageNet's split partitions 608 classes")  # fmt: skip
claims.check(abs(implied["MAML", 1] / maml_query[1] - 1) < 0.1,
             "MAML's 1-shot interval is almost all query sampling (5 queries per episode)",
             f"{implied['MAML', 1]:.3f} against {maml_query[1]:.3f}")  # fmt: skip
claims.check(implied["ProtoNets", 1] < implied["MAML", 1] / 2,
             "ProtoNets' per-episode spread is less than half of MAML's at 1-shot")  # fmt: skip
claims.check(0.1 < flip < 0.5, "a fresh evaluation would swap the two 1-shot rows fairly often",
             f"{flip:.3f}")  # fmt: skip

# Curves: half-width against episodes, and flip chance against the true gap, in the model with
# MAML's 1-shot accuracy and task spread; a Monte Carlo check of three points of the right panel.
P, EPISODE_COUNTS = REPORTED["MAML", 1][0], (100, 300, 600, 1000, 3000, 10000)
GAPS = (0.0, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03)  # true accuracy gaps (fractions)
settings = {  # label -> (queries per class, paired)
    "1 query per class, independent": (1, False),
    "15 queries per class, independent": (15, False),
    "15 queries per class, paired": (15, True),
}


def model_flip(gap: float, queries: int, paired: bool) -> float:
    """Closed-form flip chance at EPISODES episodes in the model (paired: the task spread cancels)."""
    std = episode_std(P, 0.0 if paired else task_spread, N_WAY * queries)
    return flip_probability(gap, std, std, EPISODES)


wide, narrow = (half_width(episode_std(P, task_spread, N_WAY * q), EPISODES) for q in (1, 15))
claims.check(wide > 2 * narrow, "1 query per class gives more than twice the half-width of 15",
             f"{wide:.4f} against {narrow:.4f}")  # fmt: skip
check_gap, repeats = 0.01, 1000
generator = torch.Generator().manual_seed(0)
for label, (queries, paired) in settings.items():
    simulated = simulate_flips(check_gap, P, task_spread, N_WAY * queries, EPISODES, paired,
                               repeats, generator)  # fmt: skip
    expected = model_flip(check_gap, queries, paired)
    tolerance = 3 * (expected * (1 - expected) / repeats) ** 0.5 + 0.01
    claims.check(abs(simulated - expected) < tolerance,
                 f"simulation agrees with the closed form ({label})",
                 f"{simulated:.3f} against {expected:.3f}")  # fmt: skip

fig, (left, right) = figures.canvas(size=(7.6, 3.8), ncols=2)
with figures.style():  # custom drawing: text and lines follow the page's palette
    for i, queries in enumerate((1, 15)):
        widths = [100 * half_width(episode_std(P, task_spread, N_WAY * queries), e)
                  for e in EPISODE_COUNTS]  # fmt: skip
        left.plot(EPISODE_COUNTS, widths, color=figures.color(i), marker=figures.marker(i),
                  ls=("-", "--")[i], label=f"model, {queries} quer{'y' if queries == 1 else 'ies'}"
                  " per class")  # fmt: skip
    for j, method in enumerate(("MAML", "ProtoNets")):
        left.plot([EPISODES], [100 * REPORTED[method, 1][1]], ls="none", marker="*", ms=12,
                  color=figures.color(2 + j), label=f"{method}, reported 1-shot")  # fmt: skip
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xticks(EPISODE_COUNTS, [str(e) for e in EPISODE_COUNTS])
    left.set_yticks([0.2, 0.5, 1, 2, 5], ["0.2", "0.5", "1", "2", "5"])
    left.minorticks_off()
    left.set_xlabel("test episodes (log scale)")
    left.set_ylabel("95% half-width (points, log scale)")
    left.legend(loc="upper right", fontsize=7)
    gaps_points = [100 * g for g in GAPS]
    for i, (label, (queries, paired)) in enumerate(settings.items()):
        right.plot(gaps_points, [model_flip(g, queries, paired) for g in GAPS],
                   color=figures.color(i), marker=figures.marker(i), ls=("-", "--", "-.")[i],
                   label=label)  # fmt: skip
    right.set_xlabel(f"true accuracy gap (points), {EPISODES} episodes")
    right.set_ylabel("chance the order flips")
    right.set_ylim(-0.01, 0.52)
    right.legend(loc="upper right", fontsize=7)

split_rows = [[s.benchmark, s.split, s.train, s.val, s.test, s.images_per_class or "", s.source]
              for s in SPLITS]  # fmt: skip
print(
    figures.table(
        ["benchmark", "split", "train", "val", "test", "images per class", "read from"], split_rows
    )
)
result_rows = [
    [method, f"{k}-shot", f"{100 * acc:.2f} ± {100 * hw:.2f}", f"{100 * implied[method, k]:.1f}",
     f"{100 * maml_query[k]:.1f}" if method == "MAML" else "not known"]
    for (method, k), (acc, hw) in REPORTED.items()
]  # fmt: skip
print(
    figures.render(
        fig,
        alt="Left: the 95% half-width of a miniImageNet accuracy against the number of test "
        "episodes, for 1 and 15 queries per class, with MAML's and ProtoNets' reported 1-shot "
        "half-widths. Right: the chance that an independent re-evaluation ranks the worse of two "
        "methods first, against their true gap, for independent and paired evaluations.",
        caption=f"Model: binomial query noise plus a task spread of {100 * task_spread:.1f} points "
        f"(the part of MAML's reported 1-shot spread that its {N_WAY} test queries per episode do "
        f"not explain), at MAML's 1-shot accuracy. Three points of the right panel were checked "
        f"by simulation ({repeats} evaluations each).",
        numbers=figures.table(
            [
                "method",
                "setting",
                "reported (%)",
                "implied per-episode std (points)",
                "std from query sampling alone (points)",
            ],
            result_rows,
        ),
    )
)
print(
    f"The two miniImageNet split files share {SHARED_MINI_CLASSES} of their 100 classes; "
    f"{MINI_IN_TIERED} of the Ravi & Larochelle classes are also tieredImageNet classes, "
    f"{MINI_TRAIN_IN_TIERED_TEST} miniImageNet training classes are tieredImageNet test classes and "
    f"{MINI_TEST_IN_TIERED_TRAIN} miniImageNet test classes are tieredImageNet training classes; "
    f"tieredImageNet's splits share {TIERED_CATEGORIES_SHARED} high-level categories. If the "
    f"1-shot gap were exactly the reported {100 * gap:.2f} points, an independent re-evaluation "
    f"of both rows at their reported spreads would rank MAML first with probability {flip:.2f}."
)
