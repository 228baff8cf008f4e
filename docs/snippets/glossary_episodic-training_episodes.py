# Episodes from the project's sampler on a toy dataset of 12 classes x 6 examples, where each
# example's value encodes its class (10 * class + example), so the printout shows what was drawn.
import claims
import torch

from reference_impl.episodes import sample_batch

N_WAY, K_SHOT, N_QUERY, MANY = 3, 2, 1, 2_000
toy = (10 * torch.arange(12).view(12, 1) + torch.arange(6)).float().view(12, 6, 1)
support_x, support_y, query_x, query_y = sample_batch(
    toy, N_WAY, K_SHOT, N_QUERY, 2, torch.Generator().manual_seed(0)
)
for t in range(2):
    classes = (support_x[t, ::K_SHOT, 0] // 10).int().tolist()
    print(
        f"episode {t}: classes {classes} get labels {support_y[t, ::K_SHOT].tolist()}; "
        f"support {support_x[t, :, 0].int().tolist()}, query {query_x[t, :, 0].int().tolist()}"
    )
print(
    f"shapes: support_x {tuple(support_x.shape)}, support_y {tuple(support_y.shape)}, "
    f"query_x {tuple(query_x.shape)}, query_y {tuple(query_y.shape)}"
)

# The same properties over many episodes, checked rather than read off two of them:
support_x, support_y, query_x, _ = sample_batch(
    toy, N_WAY, K_SHOT, N_QUERY, MANY, torch.Generator().manual_seed(1)
)
drawn = (support_x[:, :, 0] // 10).long()  # (T, N*K) class of each support example
labels = torch.zeros(12, N_WAY)  # how often each class got each label
labels.index_put_(
    (drawn.flatten(), support_y.flatten()), torch.ones(drawn.numel()), accumulate=True
)
share = labels / labels.sum(dim=1, keepdim=True)  # (12, N)
overlap = sum(
    len(set(s.tolist()) & set(q.tolist()))
    for s, q in zip(support_x[..., 0], query_x[..., 0], strict=True)
)
claims.check(bool((share > 0).all()), "every class receives every label across episodes")
claims.check(overlap == 0, "support and query examples of an episode never overlap")
print(
    f"over {MANY} episodes: every class received each of the {N_WAY} labels, in "
    f"{share.min():.0%} to {share.max():.0%} of its draws; support and query shared "
    f"{overlap} examples"
)
