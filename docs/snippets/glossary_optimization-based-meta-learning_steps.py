# ruff: noqa: F821  (torch, D and the helpers come from glossary_meta-learning_linear_tasks.py,
# which the page includes in the same executed block just before this file)
# The inner learner is plain gradient descent on the support MSE with step size 0.05. Compare
# starting at 0 with starting at theta0 meta-learned on 2-shot tasks, after a number of inner steps.
generator = torch.Generator().manual_seed(0)
mu, SPREAD, INNER_LR = torch.full((D,), 1.0, dtype=torch.float64), 0.5, 0.05


def gradient_descent(theta0, support_x, support_y, steps):
    weights = theta0.expand(support_x.shape[0], D)  # (T, D)
    for _ in range(steps):
        residual = (support_x @ weights.unsqueeze(-1)).squeeze(-1) - support_y  # (T, K)
        grad = 2 / support_x.shape[1] * (support_x.transpose(1, 2) @ residual.unsqueeze(-1))
        weights = weights - INNER_LR * grad.squeeze(-1)
    return weights


theta0 = meta_train_init(*sample_tasks(300, 2, 10, mu, SPREAD, generator))
results = {}
for k_shot in (4, 16):
    support_x, support_y, query_x, query_y = sample_tasks(300, k_shot, 20, mu, SPREAD, generator)
    for steps in (0, 1, 5, 25, 100):
        for name, start in (("scratch", torch.zeros_like(mu)), ("meta", theta0)):
            adapted = gradient_descent(start, support_x, support_y, steps)
            results[k_shot, steps, name] = query_mse(adapted, query_x, query_y)
    for name, start in (("scratch", torch.zeros_like(mu)), ("meta", theta0)):
        results[k_shot, "inf", name] = query_mse(
            adapt_from(start, support_x, support_y), query_x, query_y
        )

print("inner steps | K=4: scratch   meta | K=16: scratch   meta")
for steps in (0, 1, 5, 25, 100, "inf"):
    row = [results[k, steps, name] for k in (4, 16) for name in ("scratch", "meta")]
    print(f"{steps!s:>11} | {row[0]:13.2f} {row[1]:6.2f} | {row[2]:14.2f} {row[3]:6.2f}")
