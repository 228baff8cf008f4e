# Tasks share a 2-dimensional feature subspace of a 16-dimensional input; each task is a different
# linear read-out of those features. Train the same two-layer network with MAML (the inner loop
# adapts body and head) and with ANIL (the inner loop adapts the head only), then compare.
import torch

torch.manual_seed(0)
generator = torch.Generator().manual_seed(0)
D_IN, RANK, WIDTH, K_SHOT, N_QUERY = 16, 2, 4, 4, 16
INNER_LR, META_BATCH, META_STEPS = 0.5, 16, 150
shared = torch.linalg.qr(torch.randn(D_IN, RANK, generator=generator)).Q  # (D_IN, RANK)


def sample_tasks(num_tasks):
    head = torch.randn(num_tasks, RANK, 1, generator=generator)  # task-specific read-out
    x = torch.randn(num_tasks, K_SHOT + N_QUERY, D_IN, generator=generator)
    y = x @ shared @ head + 0.05 * torch.randn(num_tasks, K_SHOT + N_QUERY, 1, generator=generator)
    return x[:, :K_SHOT], y[:, :K_SHOT], x[:, K_SHOT:], y[:, K_SHOT:]


def predict(p, x):
    return torch.tanh(x @ p["body"]) @ p["head"]  # (T, n, 1)


def adapt(p, x, y, names, create_graph):
    """One inner gradient step on each task's support MSE, for the parameters in `names`."""
    p = {k: v.expand(x.shape[0], *v.shape) for k, v in p.items()}  # (T, ...) one copy per task
    loss = (predict(p, x) - y).pow(2).mean(dim=(1, 2)).sum()
    grads = torch.autograd.grad(loss, [p[k] for k in names], create_graph=create_graph)
    return {**p, **{k: p[k] - INNER_LR * g for k, g in zip(names, grads, strict=True)}}


def meta_train(inner_names):
    p = {
        "body": (0.3 * torch.randn(D_IN, WIDTH)).requires_grad_(),
        "head": torch.zeros(WIDTH, 1, requires_grad=True),
    }
    optimiser = torch.optim.Adam(p.values(), lr=0.01)
    for _ in range(META_STEPS):
        support_x, support_y, query_x, query_y = sample_tasks(META_BATCH)
        adapted = adapt(p, support_x, support_y, inner_names, create_graph=True)
        loss = (predict(adapted, query_x) - query_y).pow(2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return p


support_x, support_y, query_x, query_y = sample_tasks(500)
print(f"target variance (error of predicting 0): {query_y.var().item():.3f}")
for label, names in (("MAML", ["body", "head"]), ("ANIL", ["head"])):
    p = meta_train(names)
    adapted = adapt(p, support_x, support_y, names, create_graph=False)
    head_only = adapt(p, support_x, support_y, ["head"], create_graph=False)
    with torch.no_grad():
        mse = (predict(adapted, query_x) - query_y).pow(2).mean().item()
        mse_head = (predict(head_only, query_x) - query_y).pow(2).mean().item()
    body_moved = ((adapted["body"] - p["body"]).flatten(1).norm(dim=1) / p["body"].norm()).median()
    head_after = adapted["head"].flatten(1).norm(dim=1).median()
    print(
        f"{label}: query MSE {mse:.3f}, with a head-only inner loop {mse_head:.3f}; inner step moves "
        f"the body by {body_moved:.1%}, the head from norm {p['head'].norm():.2f} to {head_after:.2f}"
    )
