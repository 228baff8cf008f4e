# ruff: noqa: F821  (torch, D, NOISE and the helpers come from glossary_meta-learning_linear_tasks.py,
# which the page includes in the same executed block just before this file)
# Meta-train a starting point theta0 on 500 tasks with K = 2, then compare three learners on
# 500 fresh tasks per row: scratch (start at 0), the meta-learned start, and the Bayes posterior
# mean, which is told mu and the spread (the best any learner can do on this distribution).
generator = torch.Generator().manual_seed(0)
mu = torch.full((D,), 1.0, dtype=torch.float64)
SPREAD = 0.5
theta0 = meta_train_init(*sample_tasks(500, 2, 10, mu, SPREAD, generator))
print(
    f"learned theta0 is {(theta0 - mu).norm() / mu.norm():.1%} of |mu| away from the task mean mu"
)
print(" K   scratch   meta-learned start   Bayes oracle")
for k_shot in (1, 2, 4, 6, 12, 24):
    support_x, support_y, query_x, query_y = sample_tasks(500, k_shot, 20, mu, SPREAD, generator)
    scratch = query_mse(adapt_from(torch.zeros_like(mu), support_x, support_y), query_x, query_y)
    meta = query_mse(adapt_from(theta0, support_x, support_y), query_x, query_y)
    precision = (
        support_x.transpose(1, 2) @ support_x / NOISE**2
        + torch.eye(D, dtype=torch.float64) / SPREAD**2
    )
    rhs = (support_x.transpose(1, 2) @ support_y.unsqueeze(-1)).squeeze(-1) / NOISE**2
    bayes = torch.linalg.solve(precision, rhs + mu / SPREAD**2)
    print(f"{k_shot:2d} {scratch:9.3f} {meta:20.3f} {query_mse(bayes, query_x, query_y):14.3f}")
