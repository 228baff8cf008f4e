# ruff: noqa: F821  (torch, data, sample_batch, mean_ci95 and prototype_accuracy come from
# glossary_n-way-k-shot_clusters.py, included in the same executed block just before this file)
# 5-way 1-shot, a fixed budget of 3000 labelled query predictions, spent as many episodes with
# few queries each or few episodes with many. Repeat each evaluation 25 times with new episodes
# to see how much its mean moves, and compare with the 95% CI the evaluation itself reports and
# with a naive CI that treats every query prediction as independent.
import claims
import figures

generator = torch.Generator().manual_seed(2)
N_WAY, K_SHOT, BUDGET, REPEATS = 5, 1, 3000, 25
QUERIES = (1, 5, 15, 30)


def chi2_quantile(p_z, dof):
    """Wilson-Hilferty approximation of a chi-squared quantile, from the normal quantile p_z."""
    return dof * (1 - 2 / (9 * dof) + p_z * (2 / (9 * dof)) ** 0.5) ** 3


# The spread of the mean is estimated from REPEATS evaluations; its 95% interval (chi-squared):
low_factor = ((REPEATS - 1) / chi2_quantile(1.96, REPEATS - 1)) ** 0.5
high_factor = ((REPEATS - 1) / chi2_quantile(-1.96, REPEATS - 1)) ** 0.5
rows = {}
for n_query in QUERIES:
    episodes = BUDGET // (N_WAY * n_query)
    batch = sample_batch(data, N_WAY, K_SHOT, n_query, episodes * REPEATS, generator)
    accuracy = prototype_accuracy(batch, N_WAY).double().reshape(REPEATS, episodes)
    reported = claims.mean_ci([mean_ci95(row.tolist())[1] for row in accuracy])
    actual = 1.96 * accuracy.mean(1).std().item()
    p = accuracy.mean().item()
    naive = 1.96 * (p * (1 - p) / BUDGET) ** 0.5  # every prediction counted as independent
    rows[n_query] = (episodes, reported, actual, naive)

# The page's sentences, checked against this output:
claims.increasing(
    [rows[q][1] for q in QUERIES],
    "in this example the reported interval widens as the budget moves from episodes to queries",
)
claims.check(
    rows[QUERIES[0]][1].high < 0.5 * rows[QUERIES[-1]][1].low,
    "in this example one query per class gives an interval less than half as wide as 30",
)
for n_query, (_, reported, actual, _) in rows.items():
    claims.check(
        low_factor * actual <= reported.mean <= high_factor * actual,
        f"in this example the per-episode interval is honest at Q = {n_query}",
        f"reported {reported}, actual {actual:.4f}",
    )
naive_q = rows[QUERIES[-1]]
claims.check(
    naive_q[3] < low_factor * naive_q[2],
    "in this example an interval over queries is too narrow when queries share episodes",
)

series = [
    figures.Series("reported 95% CI (over episodes)", QUERIES, [rows[q][1].mean for q in QUERIES]),
    figures.Series(
        "actual spread of the mean (1.96 sd of repeats)", QUERIES, [rows[q][2] for q in QUERIES]
    ),
    figures.Series("naive 95% CI (over query predictions)", QUERIES, [rows[q][3] for q in QUERIES]),
]
fig = figures.line(
    series,
    x_label=f"queries per class (same budget of {BUDGET} predictions)",
    y_label="half-width of the interval",
    x_scale="log",
    y_lim=(0, None),
)
fig.axes[0].yaxis.set_major_formatter(lambda v, _: f"{v:.1%}")
print(
    figures.render(
        fig,
        alt="Half-width of the confidence interval against queries per class at a fixed "
        "labelling budget: the reported interval over episodes tracks the actual spread of the "
        "mean and widens with more queries per episode, while the naive interval over queries "
        "stays flat and far too narrow.",
        caption=f"5-way {K_SHOT}-shot nearest class mean, each evaluation repeated {REPEATS} times "
        "on fresh episodes. Read the first two lines together (the interval over episodes is "
        "honest) and against the third (the interval over queries is not).",
        numbers=figures.table(
            ["queries per class", "episodes", "reported CI95", "actual spread", "naive CI95"],
            [[q, e, f"{r.mean:.2%}", f"{a:.2%}", f"{n:.2%}"] for q, (e, r, a, n) in rows.items()],
        ),
    )
)
