"""Fast-weight memories with `reference_impl.fast_weights`: overwriting, interference, capacity.

All numbers in float64, with the package's `write` (delta rule), `write_additive` and `read`.
"""

import claims
import figures
import torch

from reference_impl.fast_weights import FastWeightsConfig, read, write, write_additive

f64 = torch.float64
gen = torch.Generator().manual_seed(0)
d = 16  # D_k = D_v
one = torch.ones(1, dtype=f64)


def unit(*shape: int) -> torch.Tensor:
    """Random unit vectors along the last dimension."""
    x = torch.randn(*shape, generator=gen, dtype=f64)
    return x / x.norm(dim=-1, keepdim=True)


# 1. Writing a second value under the same key.
k, v_old, v_new = unit(1, d), unit(1, d), unit(1, d)
rules = {"delta": write, "additive": write_additive}
lines = []  # text printed by the next block
for name, rule in rules.items():
    w = rule(rule(torch.zeros(1, d, d, dtype=f64), k, v_old, one), k, v_new, one)
    recalled = read(w, k[:, None])[:, 0]  # (1, D_v)
    to_new, to_sum = (recalled - v_new).norm().item(), (recalled - v_old - v_new).norm().item()
    claims.check(min(to_new, to_sum) < 1e-12, f"the {name} rule recalls exactly one of the two")
    claims.check((to_new < to_sum) == (name == "delta"), "delta overwrites, additive accumulates")
    lines.append(
        f"{name:>8} rule, same key written twice: |recall - new| = {to_new:.2f},"
        f" |recall - (old + new)| = {to_sum:.2f}"
    )

# 2. Recall error of n random unit-key associations in a 16 x 16 matrix (50 trials each).
trials, SIZES = 50, (4, 8, 16, 32, 64)
VARIANTS = {  # label -> (rule, passes over the associations)
    "additive": (write_additive, 1),
    "delta, 1 pass": (write, 1),
    "delta, 2 passes": (write, 2),
    "delta, 10 passes": (write, 10),
}
error = {}  # (variant, n) -> per-trial mean relative recall error
for n in SIZES:
    keys, values = unit(trials, n, d), unit(trials, n, d)
    strength = torch.ones(trials, dtype=f64)
    for label, (rule, passes) in VARIANTS.items():
        w = torch.zeros(trials, d, d, dtype=f64)
        for _ in range(passes):
            for i in range(n):
                w = rule(w, keys[:, i], values[:, i], strength)
        error[label, n] = (read(w, keys) - values).norm(dim=-1).mean(dim=1).tolist()

# 3. Where the delta rule's error goes when the memory is over-full (n = 64 > D_k, one pass).
w1 = torch.zeros(trials, d, d, dtype=f64)
for i in range(64):
    w1 = write(w1, keys[:, i], values[:, i], strength)
err1 = (read(w1, keys) - values).norm(dim=-1)  # (trials, 64)
oldest, newest = err1[:, :8].mean(1).tolist(), err1[:, -8:].mean(1).tolist()
forget = claims.greater(oldest, newest, "an over-full delta memory forgets the oldest writes first")
lines.append(
    f"n = 64, delta, 1 pass: error of the first 8 writes {sum(oldest) / trials:.2f},"
    f" of the last 8 writes {sum(newest) / trials:.2f} (paired difference {forget})"
)

# The page's sentences about part 2, checked over the trials:
ci = {key: claims.mean_ci(values) for key, values in error.items()}
below, above = [n for n in SIZES if n < d], [n for n in SIZES if n > d]
for n in below:
    claims.greater(error["delta, 1 pass", n], error["delta, 10 passes", n], f"passes help, n = {n}")
    claims.below(ci["delta, 10 passes", n], 0.05, f"ten passes nearly recall everything, n = {n}")
claims.above(ci["delta, 10 passes", d], 0.1, "at n = D_k ten passes are still far from exact")
for n in above:
    claims.above(ci["delta, 10 passes", n], 0.5, f"beyond D_k no pass count recalls all, n = {n}")
claims.increasing([ci["additive", n] for n in SIZES], "the additive error grows with n")

series = [
    figures.Series(
        label, SIZES, [ci[label, n].mean for n in SIZES], ci=[ci[label, n].ci95 for n in SIZES]
    )
    for label in VARIANTS
]
fig = figures.line(
    series,
    x_label="associations written n (log scale)",
    y_label="relative recall error",
    x_scale="log",
)
with figures.style():
    fig.axes[0].axvline(d, color=figures.MUTED, lw=1, ls="--")
    fig.axes[0].annotate(
        f"n = D_k = {d}", (d, 1.6), xytext=(4, 0), textcoords="offset points", fontsize=9,
        color=figures.FOREGROUND,
    )  # fmt: skip
rows = [
    [n, *(f"{ci[label, n].mean:.2f} ± {ci[label, n].ci95:.2f}" for label in VARIANTS)]
    for n in SIZES
]
print(
    figures.render(
        fig,
        alt="Recall error of a 16 by 16 fast-weight memory against the number of associations "
        "written: the additive rule's error grows from the first write; the delta rule's error "
        "falls to near zero with more passes while n is below 16 and stays high beyond it.",
        caption=f"Mean of |W k_i − v_i| / |v_i| over the written associations, {trials} trials of "
        "random unit keys and values per point, bands are 95% intervals over trials; the dashed "
        "line is the key dimension.",
        numbers=figures.table(["n", *VARIANTS], rows),
    )
)

cfg = FastWeightsConfig()
lines.append(
    f"FastWeightsConfig defaults: rule={cfg.rule!r}, write_passes={cfg.write_passes},"
    f" normalize_keys={cfg.normalize_keys},\n  key_dim={cfg.key_dim},"
    f" init_write_strength={cfg.init_write_strength}"
)
