# MAML's meta-gradient through the project's inner loop (reference_impl.maml.adapt), checked
# against its closed form on linear least squares, where everything is known exactly (float64).
import torch
from torch import nn
from torch.func import functional_call

from reference_impl.maml import MAMLConfig, adapt, task_loss

generator = torch.Generator().manual_seed(0)
model = nn.Linear(3, 1, bias=False).double()
params = {"weight": torch.randn(1, 3, generator=generator, dtype=torch.float64).requires_grad_()}
xs, ys = (
    torch.randn(5, 3, generator=generator, dtype=torch.float64),
    torch.randn(5, 1, generator=generator, dtype=torch.float64),
)
xq, yq = (
    torch.randn(7, 3, generator=generator, dtype=torch.float64),
    torch.randn(7, 1, generator=generator, dtype=torch.float64),
)
cfg = MAMLConfig(inner_lr=0.1, inner_steps=1)

adapted = adapt(model, params, xs, ys, cfg)
query_loss = task_loss(functional_call(model, adapted, (xq,)), yq, cfg)
(autograd,) = torch.autograd.grad(query_loss, params["weight"])

w = params["weight"].detach().T  # (3, 1)
hessian = 2 / 5 * xs.T @ xs  # support-loss Hessian
w_adapted = w - 0.1 * 2 / 5 * xs.T @ (xs @ w - ys)  # one inner step
grad_query = 2 / 7 * xq.T @ (xq @ w_adapted - yq)  # query gradient at the adapted weights
closed_form = (torch.eye(3, dtype=torch.float64) - 0.1 * hessian) @ grad_query
print(f"max |autograd - closed form|: {(autograd.T - closed_form).abs().max().item():.1e}")
print(
    f"first-order gradient differs by {(grad_query - closed_form).norm() / closed_form.norm():.1%}"
)
shrink = torch.linalg.eigvalsh(torch.eye(3, dtype=torch.float64) - 0.1 * hessian)
print("eigenvalues of (I - alpha H_S):", ", ".join(f"{v:.3f}" for v in shrink.tolist()))
