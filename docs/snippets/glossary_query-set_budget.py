# ruff: noqa: F821  (torch, data, sample_batch, mean_ci95 and prototype_accuracy come from
# glossary_n-way-k-shot_clusters.py, included in the same executed block just before this file)
# 5-way 1-shot, a fixed budget of 3000 labelled query predictions, spent as many episodes with
# few queries each or few episodes with many. Repeat each evaluation 25 times with new episodes
# to see how much its mean moves, and compare with the 95% CI the evaluation itself reports.
generator = torch.Generator().manual_seed(2)
N_WAY, K_SHOT, BUDGET, REPEATS = 5, 1, 3000, 25
print(" Q/class  episodes  reported CI95  spread of the mean over repeats (1.96 sd)")
for n_query in (1, 5, 15, 30):
    episodes = BUDGET // (N_WAY * n_query)
    batch = sample_batch(data, N_WAY, K_SHOT, n_query, episodes * REPEATS, generator)
    accuracy = prototype_accuracy(batch, N_WAY).reshape(REPEATS, episodes)
    reported = sum(mean_ci95(row.tolist())[1] for row in accuracy) / REPEATS
    actual = 1.96 * accuracy.mean(1).std().item()
    print(f"{n_query:8d} {episodes:9d} {reported:13.2%} {actual:14.2%}")
