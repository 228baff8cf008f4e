# The real MAML inner loop (reference_impl.maml.adapt) on the paper's sine-regression network,
# at its initialisation, in float64: meta-gradients with and without the second-order term.
import dataclasses

import torch
from torch.func import functional_call

from reference_impl.maml import MAMLConfig, adapt, build_model, sample_sinusoid_batch, task_loss

torch.manual_seed(0)
cfg = MAMLConfig(meta_batch_size=4)
model = build_model(cfg).double()
params = {name: p.detach().requires_grad_() for name, p in model.named_parameters()}
support_x, support_y, query_x, query_y = (
    t.double() for t in sample_sinusoid_batch(cfg, torch.Generator().manual_seed(0))
)


def meta_gradient(inner_lr, steps, first_order):
    run = dataclasses.replace(cfg, inner_lr=inner_lr, inner_steps=steps, first_order=first_order)
    loss = 0
    for t in range(cfg.meta_batch_size):
        adapted = adapt(model, params, support_x[t], support_y[t], run)
        loss = loss + task_loss(functional_call(model, adapted, (query_x[t],)), query_y[t], run)
    grads = torch.autograd.grad(loss, list(params.values()))
    return torch.cat([g.flatten() for g in grads])


print("inner_lr  steps  cosine(first-order, exact)  relative error of first-order")
for inner_lr in (0.001, 0.01, 0.1):
    for steps in (1, 5):
        exact, approx = meta_gradient(inner_lr, steps, False), meta_gradient(inner_lr, steps, True)
        cosine = torch.nn.functional.cosine_similarity(exact, approx, dim=0).item()
        error = ((approx - exact).norm() / exact.norm()).item()
        print(f"{inner_lr:8.3f} {steps:6d} {cosine:27.4f} {error:31.3f}")
