# ruff: noqa: F821  (LineTasks, sample_functions, gp_predictive, ConditionalNeuralProcess,
# gaussian_nll and train_cnp come from glossary_neural-processes_cnp.py, included just before)
# Meta-train a CNP on noisy lines for a few hundred steps, then compare its predictive spread on
# held-out points of new functions with the exact posterior predictive, as the context grows.
import itertools

import claims
import figures
import torch

TASKS = LineTasks()
STEPS, BATCH, POINTS, MAX_CONTEXT, LR = 600, 16, 24, 12, 3e-3
SIZES, TEST_FUNCTIONS = (1, 2, 4, 8, 12), 400
torch.manual_seed(0)  # the CNP's initial weights
model = ConditionalNeuralProcess(hidden=32)
losses = train_cnp(
    model, TASKS, STEPS, BATCH, POINTS, MAX_CONTEXT, LR, torch.Generator().manual_seed(1)
)

# New functions; the last POINTS - MAX_CONTEXT points are targets and never part of a context.
x, y = sample_functions(TASKS, TEST_FUNCTIONS, POINTS, torch.Generator().manual_seed(2))
target_x, target_y = x[:, MAX_CONTEXT:], y[:, MAX_CONTEXT:]  # (T, M)
spread, nll = {}, {}  # (model, n) -> per-function mean predictive std / mean target NLL
with torch.no_grad():
    for n in SIZES:
        mask = (torch.arange(POINTS) < n).to(x.dtype).expand(TEST_FUNCTIONS, -1)  # (T, P)
        predictions = {
            "CNP": model(x, y, mask, target_x),
            "exact posterior": gp_predictive(x[:, :n], y[:, :n], target_x, TASKS),
        }
        for name, (mean, std) in predictions.items():  # (T, M) each
            spread[name, n] = std.mean(-1).tolist()
            nll[name, n] = gaussian_nll(mean, std, target_y).mean(-1).tolist()

# The page's sentences, checked against this output (paired over the same test functions):
for small, large in itertools.pairwise(SIZES):
    claims.greater(
        spread["CNP", small], spread["CNP", large],
        f"the CNP's predictive spread shrinks from {small} to {large} context points",
    )  # fmt: skip
    claims.greater(
        nll["CNP", small], nll["CNP", large],
        f"the CNP's held-out NLL falls from {small} to {large} context points",
    )  # fmt: skip
gaps = {}
for n in SIZES:
    gaps[n] = claims.greater(
        nll["CNP", n], nll["exact posterior", n],
        f"the exact posterior has the lower held-out NLL at {n} context points",
    )  # fmt: skip
claims.greater(
    spread["exact posterior", SIZES[0]], spread["CNP", SIZES[0]],
    f"with {SIZES[0]} context point the CNP is narrower than the exact posterior",
)  # fmt: skip
for n in SIZES[1:]:
    claims.greater(
        spread["CNP", n], spread["exact posterior", n],
        f"the CNP is wider than the exact posterior at {n} context points",
    )  # fmt: skip

# Three context points: how well each model fits the points it was given (all test lines), and
# one line drawn in the right panel.
show_n, grid = 3, torch.linspace(TASKS.x_low, TASKS.x_high, 61).unsqueeze(0)  # (1, 61)
show_mask = (torch.arange(POINTS) < show_n).to(x.dtype).unsqueeze(0)  # (1, P)
with torch.no_grad():
    context_x, context_y = x[:, :show_n], y[:, :show_n]  # (T, 3)
    fits = {
        "CNP": model(x, y, show_mask.expand(TEST_FUNCTIONS, -1), context_x)[0],
        "exact posterior": gp_predictive(context_x, context_y, context_x, TASKS)[0],
    }
    context_error = {name: (m - context_y).pow(2).mean(-1).tolist() for name, m in fits.items()}
context_gap = claims.greater(
    context_error["CNP"], context_error["exact posterior"],
    f"with {show_n} context points the CNP fits them worse than the exact posterior",
)  # fmt: skip
with torch.no_grad():
    bands = {
        "CNP": model(x[:1], y[:1], show_mask, grid),
        "exact posterior": gp_predictive(x[:1, :show_n], y[:1, :show_n], grid, TASKS),
    }

cells = {key: claims.mean_ci(values) for key, values in spread.items()}
nll_cells = {key: claims.mean_ci(values) for key, values in nll.items()}
names = ("CNP", "exact posterior")
fig, (left, right) = figures.canvas(size=(7.6, 3.6), ncols=2)
with figures.style():  # custom drawing: text and lines follow the page's palette
    for i, name in enumerate(names):
        means = [cells[name, n].mean for n in SIZES]
        ci = [cells[name, n].ci95 for n in SIZES]
        left.plot(SIZES, means, color=figures.color(i), marker=figures.marker(i), label=name)
        left.fill_between(
            SIZES, [m - c for m, c in zip(means, ci, strict=True)],
            [m + c for m, c in zip(means, ci, strict=True)], color=figures.color(i), alpha=0.18,
            lw=0,
        )  # fmt: skip
    left.axhline(TASKS.noise_std, color=figures.FOREGROUND, lw=1, ls=":", label="noise level")
    left.set_xscale("log")
    left.set_xticks(SIZES, [str(n) for n in SIZES])
    left.minorticks_off()
    left.set_xlabel("context points n (log scale)")
    left.set_ylabel("predictive std on held-out points")
    left.legend(loc="upper right", fontsize=8)
    xs = grid[0].tolist()
    for i, name in enumerate(names):
        mean, std = (t[0] for t in bands[name])
        low, high = (mean - 1.96 * std).tolist(), (mean + 1.96 * std).tolist()
        right.plot(xs, mean.tolist(), color=figures.color(i), ls=("-", "--")[i], label=name)
        right.fill_between(xs, low, high, color=figures.color(i), alpha=0.15, lw=0)
    right.plot(
        x[0, :show_n].tolist(), y[0, :show_n].tolist(), ls="none", marker="o", ms=7,
        color=figures.FOREGROUND, label="context",
    )  # fmt: skip
    right.set_xlabel("x")
    right.set_ylabel("y: mean and 95% band")
    right.legend(loc="best", fontsize=8)

rows = [
    [
        n,
        *(f"{cells[name, n].mean:.3f} ± {cells[name, n].ci95:.3f}" for name in names),
        *(f"{nll_cells[name, n].mean:.3f} ± {nll_cells[name, n].ci95:.3f}" for name in names),
        f"{gaps[n].mean:.3f} ± {gaps[n].ci95:.3f}",
    ]
    for n in SIZES
]
headers = [
    "context n",
    "CNP std",
    "exact std",
    "CNP NLL",
    "exact NLL",
    "NLL gap CNP − exact (paired)",
]
print(
    figures.render(
        fig,
        alt="Left: predictive standard deviation on held-out points against the number of "
        "context points, for the CNP and the exact posterior; both fall, the CNP's stays above. "
        "Right: one new line with three context points, the CNP's and the exact posterior's "
        "mean and 95% band.",
        caption=f"CNP meta-trained for {STEPS} steps of {BATCH} lines; {TEST_FUNCTIONS} new lines, "
        f"targets are {POINTS - MAX_CONTEXT} points never in the context; bands on the left are "
        "95% intervals over functions. The dotted line is the observation noise, the floor of "
        "any predictive spread.",
        numbers=figures.table(headers, rows),
    )
)
print(
    f"Squared error at the {show_n} context points themselves, CNP − exact posterior (paired over "
    f"the {TEST_FUNCTIONS} lines): {context_gap.mean:+.3f} ± {context_gap.ci95:.3f}."
)
print(
    f"Training NLL: first {STEPS // 10} steps {sum(losses[: STEPS // 10]) / (STEPS // 10):.2f}, "
    f"last {STEPS // 10} steps {sum(losses[-(STEPS // 10) :]) / (STEPS // 10):.2f}."
)
