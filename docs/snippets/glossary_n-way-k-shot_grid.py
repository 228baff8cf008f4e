# ruff: noqa: F821  (torch, data, sample_batch, mean_ci95 and prototype_accuracy come from
# glossary_n-way-k-shot_clusters.py, included in the same executed block just before this file)
# Accuracy of the same learner on the same classes as N and K change: 200 episodes per cell,
# 10 queries per class, mean and 95% confidence interval over episodes.
generator = torch.Generator().manual_seed(1)
print(" N  chance |  K=1          K=5          K=20")
for n_way in (2, 5, 20):
    cells = []
    for k_shot in (1, 5, 20):
        episodes = sample_batch(data, n_way, k_shot, 10, 200, generator)
        mean, ci = mean_ci95(prototype_accuracy(episodes, n_way).tolist())
        cells.append(f"{mean:6.1%} ±{ci:5.1%}")
    print(f"{n_way:2d} {1 / n_way:7.1%} | " + "  ".join(cells))
