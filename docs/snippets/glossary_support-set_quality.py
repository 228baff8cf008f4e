# ruff: noqa: F821  (torch, data, sample_batch, mean_ci95 and prototype_accuracy come from
# glossary_n-way-k-shot_clusters.py, included in the same executed block just before this file)
# 5-way 5-shot, 300 episodes: the same learner with a clean support set, with some support labels
# flipped to another class, and with one class left with a single shot.
generator = torch.Generator().manual_seed(3)
N_WAY, K_SHOT = 5, 5
support_x, support_y, query_x, query_y = sample_batch(data, N_WAY, K_SHOT, 10, 300, generator)


def report(name, episodes):
    mean, ci = mean_ci95(prototype_accuracy(episodes, N_WAY).tolist())
    print(f"{name:<38} {mean:6.1%} ± {ci:.1%}")


report("clean support set", (support_x, support_y, query_x, query_y))
for flipped in (1, 2, 4):
    noisy_y = support_y.clone()
    noisy_y[:, :flipped] = 1  # the first shots of class 0 are labelled as class 1
    report(f"{flipped} of 25 support labels wrong", (support_x, noisy_y, query_x, query_y))
keep = torch.ones(N_WAY * K_SHOT, dtype=torch.bool)
keep[1:K_SHOT] = False  # class 0 keeps a single shot
report(
    "class 0 with 1 shot, others with 5", (support_x[:, keep], support_y[:, keep], query_x, query_y)
)
