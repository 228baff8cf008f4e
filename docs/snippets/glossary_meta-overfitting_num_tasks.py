# ruff: noqa: F821  (torch, D and the helpers come from glossary_meta-learning_linear_tasks.py,
# which the page includes in the same executed block just before this file)
# Meta-train theta0 (K = 2, 10 query points per task) on a fixed set of M training tasks, then
# score it on those same tasks and on 300 new tasks from the same distribution.
generator = torch.Generator().manual_seed(0)
mu, SPREAD, K_SHOT = torch.full((D,), 1.0, dtype=torch.float64), 0.5, 2
test_tasks = sample_tasks(300, K_SHOT, 20, mu, SPREAD, generator)
zeros = torch.zeros_like(mu)
print(
    f"scratch (theta0 = 0) on new tasks: {query_mse(adapt_from(zeros, *test_tasks[:2]), *test_tasks[2:]):.2f}"
)
print("  M  meta-train MSE  meta-test MSE    gap  |theta0 - mu|")
for num_tasks in (1, 2, 4, 8, 32, 128, 512):
    train_tasks = sample_tasks(num_tasks, K_SHOT, 10, mu, SPREAD, generator)
    theta0 = meta_train_init(*train_tasks)
    train = query_mse(adapt_from(theta0, *train_tasks[:2]), *train_tasks[2:])
    test = query_mse(adapt_from(theta0, *test_tasks[:2]), *test_tasks[2:])
    distance = (theta0 - mu).norm()
    print(f"{num_tasks:3d} {train:15.2f} {test:14.2f} {test - train:6.2f} {distance:13.2f}")
