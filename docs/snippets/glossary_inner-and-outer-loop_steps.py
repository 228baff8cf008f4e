# The inner loop of reference_impl.maml on 25 sine tasks (K = 5 support points), from the
# untrained network: support and query MSE after a given number of inner steps.
import dataclasses

import torch

from reference_impl.maml import (
    MAMLConfig,
    adapt_tasks,
    build_model,
    forward_tasks,
    sample_sinusoid_batch,
)

torch.manual_seed(0)
cfg = MAMLConfig(k_shot=5, inner_lr=0.02, first_order=True)  # no meta-gradient needed here
model = build_model(cfg)
params = dict(model.named_parameters())
support_x, support_y, query_x, query_y = sample_sinusoid_batch(
    cfg, torch.Generator().manual_seed(0)
)
print("inner steps  support MSE  query MSE")
for steps in (0, 1, 10, 50, 200):
    adapted = adapt_tasks(
        model, params, support_x, support_y, dataclasses.replace(cfg, inner_steps=steps)
    )
    with torch.no_grad():
        support = (forward_tasks(model, adapted, support_x) - support_y).pow(2).mean().item()
        query = (forward_tasks(model, adapted, query_x) - query_y).pow(2).mean().item()
    print(f"{steps:11d} {support:12.3f} {query:10.3f}")
