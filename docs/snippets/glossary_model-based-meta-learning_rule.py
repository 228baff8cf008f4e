"""A learned update rule outside its training conditions: `reference_impl.fast_weights`.

The fast-weight learner is meta-trained for 100 steps on 5-way 1-shot synthetic tasks. At test
time it meets other N and K. Its learned keys are also scored with a fixed rule (cosine to the
class mean of the support keys), so the difference isolates the learned write/read rule. Last, the
same support sets are written in reverse order.
"""

from dataclasses import replace

import torch
import torch.nn.functional as F

from reference_impl.fast_weights import FastWeightsConfig, episode_logits, sample_tasks, train

cfg = FastWeightsConfig(train_steps=100)
model, history = train(cfg)
print(
    f"meta-training on {cfg.n_way}-way {cfg.k_shot}-shot: query accuracy"
    f" {history[0]['accuracy']:.2f} -> {sum(h['accuracy'] for h in history[-10:]) / 10:.2f}"
    f" (last 10 steps); keys have D_k = {cfg.key_dim}"
)


def mean_key_logits(support_x, support_y, query_x, n_way):
    """Fixed rule on the learned keys: cosine to each class's mean support key."""
    keys, _ = model(torch.cat([support_x, query_x], dim=1))  # (T, N*K + N*Q, D_k), unit norm
    n_support = support_x.shape[1]
    one_hot = F.one_hot(support_y, n_way).to(keys.dtype)  # (T, N*K, N)
    means = one_hot.transpose(1, 2) @ keys[:, :n_support]  # (T, N, D_k), sums = K * means
    return keys[:, n_support:] @ F.normalize(means, dim=-1).transpose(1, 2)  # (T, N*Q, N)


print("\naccuracy on 50 test tasks of unseen classes (chance = 1/N)")
print(
    f"{'N-way K-shot':<13} {'writes':>6} {'learned rule':>13} {'fixed mean rule':>16}"
    f" {'changed by reversed order':>26}"
)
shares = []
with torch.no_grad():
    for n_way, k_shot in ((5, 1), (5, 5), (20, 1), (20, 5)):
        test_cfg = replace(cfg, n_way=n_way, k_shot=k_shot, n_query=5, meta_batch_size=50)
        sx, sy, qx, qy = sample_tasks(test_cfg, torch.Generator().manual_seed(1))
        learned = episode_logits(model, sx, sy, qx, n_way, cfg).argmax(-1)
        fixed = mean_key_logits(sx, sy, qx, n_way).argmax(-1)
        reverse = torch.arange(sx.shape[1] - 1, -1, -1)
        reversed_pred = episode_logits(model, sx[:, reverse], sy[:, reverse], qx, n_way, cfg)
        changed = (reversed_pred.argmax(-1) != learned).double().mean()
        last_quarter = (learned >= n_way - n_way // 4).double().mean()  # written last
        print(
            f"{f'{n_way}-way {k_shot}-shot':<13} {n_way * k_shot:6d}"
            f" {(learned == qy).double().mean():13.2f} {(fixed == qy).double().mean():16.2f}"
            f" {changed:26.2f}"
        )
        shares.append(f"{n_way}-way {k_shot}-shot {last_quarter:.2f} ({n_way // 4 / n_way:.2f})")
print("share of predictions on the last-written quarter of the classes (unbiased share):")
print("  " + ", ".join(shares[:2]))
print("  " + ", ".join(shares[2:]))
