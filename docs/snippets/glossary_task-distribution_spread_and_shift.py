# ruff: noqa: F821  (torch, D and the helpers come from glossary_meta-learning_linear_tasks.py,
# which the page includes in the same executed block just before this file)
# Part 1: how similar must tasks be? Meta-train theta0 (K = 2) at five task spreads and compare
# with scratch on fresh tasks from the same distribution. Part 2: train at spread 0.5, then test
# on distributions whose mean has moved.
generator = torch.Generator().manual_seed(0)
mu = torch.full((D,), 1.0, dtype=torch.float64)
K_SHOT, TRAIN_TASKS, TEST_TASKS = 2, 300, 300


def scratch_and_meta(theta0, test_mean, spread):
    support_x, support_y, query_x, query_y = sample_tasks(
        TEST_TASKS, K_SHOT, 20, test_mean, spread, generator
    )
    scratch = query_mse(adapt_from(torch.zeros_like(mu), support_x, support_y), query_x, query_y)
    return scratch, query_mse(adapt_from(theta0, support_x, support_y), query_x, query_y)


print("spread  scratch   meta  gain  predicted gain 1+|mu|^2/(D spread^2)")
for spread in (0.25, 0.5, 1.0, 2.0, 4.0):
    theta0 = meta_train_init(*sample_tasks(TRAIN_TASKS, K_SHOT, 10, mu, spread, generator))
    scratch, meta = scratch_and_meta(theta0, mu, spread)
    predicted = 1 + mu.square().sum() / (D * spread**2)
    print(f"{spread:6.2f} {scratch:8.2f} {meta:6.2f} {scratch / meta:5.1f} {predicted:9.1f}")

theta0 = meta_train_init(*sample_tasks(TRAIN_TASKS, K_SHOT, 10, mu, 0.5, generator))
print("\ntrained on mean mu, spread 0.5; test-task mean:   scratch    meta")
for name, test_mean in (("mu (no shift)", mu), ("mu / 2", mu / 2), ("0", 0 * mu), ("-mu", -mu)):
    scratch, meta = scratch_and_meta(theta0, test_mean, 0.5)
    print(f"{name:>47} {scratch:9.2f} {meta:7.2f}")
