"""Recall error of the additive and delta rules as more pairs are stored than keys have dimensions.

Random unit keys in D_k = 16 dimensions, random values, write strength 1, 200 memories per row.
The error is |W k_i - v_i| / |v_i| averaged over the stored pairs, read back with the stored keys.
"""

import torch
import torch.nn.functional as F

from reference_impl.fast_weights import FastWeightsConfig, read, write_support

d_k, d_v, trials = 16, 4, 200
generator = torch.Generator().manual_seed(0)
rules = {
    "additive": FastWeightsConfig(rule="additive", write_passes=1),
    "delta, 1 pass": FastWeightsConfig(rule="delta", write_passes=1),
    "delta, 2 passes": FastWeightsConfig(rule="delta", write_passes=2),
}
print("| Stored pairs n | " + " | ".join(rules) + " |")
print("|---|" + "---|" * len(rules))
for n in (4, 8, 16, 32):
    keys = F.normalize(
        torch.randn(trials, n, d_k, generator=generator, dtype=torch.float64), dim=-1
    )
    values = torch.randn(trials, n, d_v, generator=generator, dtype=torch.float64)
    strength = torch.ones(trials, n, dtype=torch.float64)
    cells = []
    for cfg in rules.values():
        recalled = read(write_support(keys, values, strength, cfg), keys)  # (trials, n, D_v)
        error = (recalled - values).norm(dim=-1) / values.norm(dim=-1)
        cells.append(f"{error.mean().item():.2f}")
    print(f"| {n} | " + " | ".join(cells) + " |")
