"""In-context learning with fast weights: additive writes = linear attention = one gradient step.

Part 1 checks numerically that writing n (key, value) pairs additively into W = 0 and reading with
a query gives unnormalised linear attention. Part 2 uses the context of a linear-regression task
as the n pairs and compares three fast-weight "learners" that never change a trained weight.
"""

import torch

from reference_impl.fast_weights import read, write, write_additive

gen = torch.Generator().manual_seed(0)
f64 = torch.float64

# Part 1: fast-weight read == unnormalised linear attention, for random keys/values/queries.
n, d_k, d_v, n_q = 16, 8, 3, 5
keys = torch.randn(1, n, d_k, generator=gen, dtype=f64)
values = torch.randn(1, n, d_v, generator=gen, dtype=f64)
queries = torch.randn(1, n_q, d_k, generator=gen, dtype=f64)
fast = torch.zeros(1, d_v, d_k, dtype=f64)
for i in range(n):
    fast = write_additive(fast, keys[:, i], values[:, i], torch.ones(1, dtype=f64))
attention = queries @ keys.transpose(1, 2)  # (1, n_q, n): scores k_i . q, no softmax
linear_attention = attention @ values  # (1, n_q, d_v)
gap = (read(fast, queries) - linear_attention).abs().max()
print(f"max |W q - sum_i (k_i . q) v_i| over {n_q} queries: {gap:.1e}")
print(f"memory: W has {d_v * d_k} numbers for any n; the attention cache has {n * (d_k + d_v)}")

# Part 2: in-context linear regression, y = w . x with w ~ N(0, I_4), x ~ N(0, I_4), no noise.
# Context pairs (x_i, y_i) become (key, value); the query input x_q is the read query.
tasks, dim = 400, 4
w = torch.randn(tasks, 1, dim, generator=gen, dtype=f64)
x_query = torch.randn(tasks, 1, dim, generator=gen, dtype=f64)
y_query = (x_query * w).sum(-1)  # (tasks, 1)


def in_context_mse(n_context: int) -> list[float]:
    """Query MSE / Var(y) of three learners given n_context examples of each task."""
    x = torch.randn(tasks, n_context, dim, generator=gen, dtype=f64)
    y = (x * w).sum(-1, keepdim=True)  # (tasks, n, 1)
    add = torch.zeros(tasks, 1, dim, dtype=f64)
    delta = torch.zeros(tasks, 1, dim, dtype=f64)
    for i in range(n_context):  # additive: beta = 1/n, i.e. one gradient step from W = 0
        add = write_additive(add, x[:, i], y[:, i], torch.full((tasks,), 1 / n_context, dtype=f64))
    for _ in range(3):  # delta rule, beta = 1/|x_i|^2 (each write fits its pair exactly), 3 passes
        for i in range(n_context):
            delta = write(delta, x[:, i], y[:, i], 1 / x[:, i].pow(2).sum(-1))
    least_squares = torch.linalg.pinv(x) @ y  # (tasks, dim, 1): min-norm solution
    preds = [
        read(add, x_query),
        read(delta, x_query),
        x_query @ least_squares,
    ]
    return [((p.squeeze(-1) - y_query) ** 2).mean().item() / dim for p in preds]


print("\nquery MSE / Var(y) (1.0 = predicting 0), 400 tasks, d = 4")
print(" n   additive = linear attn   delta rule, 3 passes   least squares")
for n_context in (1, 2, 4, 8, 32, 128):
    add_mse, delta_mse, ls_mse = in_context_mse(n_context)
    print(f"{n_context:3d} {add_mse:24.3f} {delta_mse:22.3f} {ls_mse:15.3f}")

# One additive read with beta = 1/n equals one gradient step on L(W) = sum_i (W x_i - y_i)^2 / 2n.
x = torch.randn(tasks, 8, dim, generator=gen, dtype=f64)
y = (x * w).sum(-1, keepdim=True)
fast = torch.zeros(tasks, 1, dim, dtype=f64)
for i in range(8):
    fast = write_additive(fast, x[:, i], y[:, i], torch.full((tasks,), 1 / 8, dtype=f64))
W0 = torch.zeros(tasks, 1, dim, dtype=f64, requires_grad=True)
loss = ((W0 @ x.transpose(1, 2) - y.transpose(1, 2)) ** 2).sum() / (2 * 8)
(grad,) = torch.autograd.grad(loss, W0)
print(f"\nmax |W_additive - (W0 - 1.0 * grad L(W0))| = {(fast - (W0 - grad)).abs().max():.1e}")
