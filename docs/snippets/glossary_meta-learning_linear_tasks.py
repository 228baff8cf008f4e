# Linear-regression tasks shared by several glossary pages (meta-learning, task distribution,
# meta-overfitting, optimisation-based meta-learning). A task is a weight vector w ~ N(mu, spread^2 I)
# in D dimensions; inputs x ~ N(0, I); targets y = x.w + noise. The inner learner is gradient descent
# on the support MSE run to convergence: it lands on the least-squares solution closest to its
# starting point theta0, so for K < D the starting point acts as a prior the outer loop can learn.
import torch

D, NOISE = 8, 0.1


def sample_tasks(num_tasks, k_shot, n_query, mu, spread, generator):
    """Return support_x (T, K, D), support_y (T, K), query_x (T, Q, D), query_y (T, Q)."""
    w = mu + spread * torch.randn(num_tasks, D, generator=generator, dtype=torch.float64)
    x = torch.randn(num_tasks, k_shot + n_query, D, generator=generator, dtype=torch.float64)
    y = torch.einsum("tnd,td->tn", x, w)
    y = y + NOISE * torch.randn(y.shape, generator=generator, dtype=torch.float64)
    return x[:, :k_shot], y[:, :k_shot], x[:, k_shot:], y[:, k_shot:]


def pseudo_inverse(support_x):
    """Moore-Penrose pseudo-inverse of each task's support inputs: (T, K, D) -> (T, D, K)."""
    xt = support_x.transpose(1, 2)
    if support_x.shape[1] < support_x.shape[2]:  # fewer shots than weights: minimum-norm step
        return xt @ torch.linalg.inv(support_x @ xt)
    return torch.linalg.inv(xt @ support_x) @ xt


def adapt_from(theta0, support_x, support_y):
    """Inner loop run to convergence from theta0 (D,): adapted weights (T, D)."""
    residual = support_y - support_x @ theta0  # (T, K)
    return theta0 + (pseudo_inverse(support_x) @ residual.unsqueeze(-1)).squeeze(-1)


def query_mse(weights, query_x, query_y):
    """Query MSE averaged over tasks, for adapted weights (T, D)."""
    return ((query_x @ weights.unsqueeze(-1)).squeeze(-1) - query_y).pow(2).mean().item()


def meta_train_init(support_x, support_y, query_x, query_y):
    """Outer loop, solved exactly: the theta0 (D,) that minimises the mean query MSE after adaptation.

    Adapted weights are (I - P) theta0 + X^+ y with P = X^+ X, so the query loss is a linear
    least-squares problem in theta0.
    """
    pinv = pseudo_inverse(support_x)  # (T, D, K)
    keep = torch.eye(D, dtype=support_x.dtype) - pinv @ support_x  # (T, D, D): I - P
    design = (query_x @ keep).reshape(-1, D)  # (T*Q, D)
    target = (query_y - (query_x @ (pinv @ support_y.unsqueeze(-1))).squeeze(-1)).reshape(-1)
    return torch.linalg.lstsq(design, target.unsqueeze(-1)).solution.squeeze(-1)
