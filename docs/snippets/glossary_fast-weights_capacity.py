"""Fast-weight memories with `reference_impl.fast_weights`: overwriting, interference, capacity.

All numbers in float64, with the package's `write` (delta rule), `write_additive` and `read`.
"""

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
for name, rule in rules.items():
    w = rule(rule(torch.zeros(1, d, d, dtype=f64), k, v_old, one), k, v_new, one)
    recalled = read(w, k[:, None])[:, 0]  # (1, D_v)
    print(
        f"{name:>8} rule, same key written twice: |recall - new| = {(recalled - v_new).norm():.2f},"
        f" |recall - (old + new)| = {(recalled - v_old - v_new).norm():.2f}"
    )

# 2. Recall error of n random unit-key associations in a 16 x 16 matrix (50 trials each).
print(f"\nmean |W k_i - v_i| / |v_i| after writing n random associations, D_k = {d}")
print("  n   additive   delta, 1 pass   delta, 2 passes   delta, 10 passes")
trials = 50
for n in (4, 8, 16, 32, 64):
    keys, values = unit(trials, n, d), unit(trials, n, d)
    strength = torch.ones(trials, dtype=f64)
    errors = []
    for rule, passes in ((write_additive, 1), (write, 1), (write, 2), (write, 10)):
        w = torch.zeros(trials, d, d, dtype=f64)
        for _ in range(passes):
            for i in range(n):
                w = rule(w, keys[:, i], values[:, i], strength)
        errors.append((read(w, keys) - values).norm(dim=-1).mean().item())
    print(f"{n:3d} {errors[0]:10.2f} {errors[1]:15.2f} {errors[2]:17.2f} {errors[3]:18.2f}")

# 3. Where the delta rule's error goes when the memory is over-full (n = 64 > D_k, one pass).
w1 = torch.zeros(trials, d, d, dtype=f64)
for i in range(64):
    w1 = write(w1, keys[:, i], values[:, i], strength)
err1 = (read(w1, keys) - values).norm(dim=-1)  # (trials, 64)
print(
    f"n = 64, delta, 1 pass: error of the first 8 writes {err1[:, :8].mean():.2f},"
    f" of the last 8 writes {err1[:, -8:].mean():.2f}"
)

cfg = FastWeightsConfig()
print(
    f"\nFastWeightsConfig defaults: rule={cfg.rule!r}, write_passes={cfg.write_passes},"
    f" normalize_keys={cfg.normalize_keys},\n  key_dim={cfg.key_dim},"
    f" init_write_strength={cfg.init_write_strength}"
)
