"""Transductive batch norm: one query's prediction depends on which other queries share its batch.

`reference_impl.protonet` embeds support and queries of an episode as one batch through a Conv-4
whose BatchNorm always uses the current batch's statistics. The network here is untrained (8
filters per block to keep the block fast): the effect is a property of the normalisation, not of
training. Episodes come from `reference_impl.evaluation.fixed_episodes` on real Omniglot test
characters, or on image-shaped synthetic tasks when the data is absent.
"""

import torch

from reference_impl.evaluation import evaluate_predictor, fixed_episodes
from reference_impl.omniglot import decode_characters, default_root, get_split
from reference_impl.protonet import ProtoNetConfig, build_model, make_predict, make_sampler

cfg = ProtoNetConfig(conv_channels=8)
torch.manual_seed(0)
model = build_model(cfg)  # Conv-4, BatchNorm2d(track_running_stats=False)
predict = make_predict(model, cfg)

if (default_root() / "images_evaluation").is_dir():
    characters = list(get_split("lake").test[:25])
    data = 1 - decode_characters(characters).float().unsqueeze(2) / 255  # (25, 20, 1, 28, 28)
    print(f"data: {len(characters)} Omniglot test characters (lake split)")
else:
    sx, _, qx, _ = make_sampler(cfg, "test", n_way=25, n_query=19, meta_batch_size=1)(
        torch.Generator().manual_seed(0)
    )
    data = torch.cat([sx[0].unflatten(0, (25, 5)), qx[0].unflatten(0, (25, 19))], 1)[:, :20]
    print("data: synthetic image-shaped tasks (no Omniglot data under the default root)")

episodes = fixed_episodes(data, n_way=5, k_shot=1, n_query=5, num_episodes=20, seed=0)
support_x, support_y, query_x, query_y = episodes[0]
target = query_x[:1]  # the query we follow: class 0
others_same_class = query_x[query_y == 1][:1].expand(24, -1, -1, -1)  # 24 copies, class 1
batches = {
    "with its episode's 25 queries": query_x,
    "alone (support + 1 query)": target,
    "with 24 copies of a class-1 query": torch.cat([target, others_same_class]),
}
print("\nlogits of one class-0 query (5-way 1-shot), by what else is in the batch:")
for name, queries in batches.items():
    logits = predict(support_x, support_y, queries)[0]
    print(
        f"  {name:<36} {' '.join(f'{v:7.1f}' for v in logits.tolist())}"
        f"  -> class {int(logits.argmax())}"
    )


def by_class(support_x, support_y, query_x):
    """Logits when the queries arrive in single-class batches (each batch: support + one class)."""
    n_way = int(support_y.max()) + 1
    labels = torch.arange(n_way).repeat_interleave(len(query_x) // n_way)
    logits = [predict(support_x, support_y, query_x[labels == k]) for k in labels.unique()]
    return torch.cat(logits)  # queries are class-major, so the order is preserved


together = evaluate_predictor(predict, episodes)
grouped = evaluate_predictor(by_class, episodes)
changed = sum(
    (predict(sx, sy, qx).argmax(-1) != by_class(sx, sy, qx).argmax(-1)).double().mean().item()
    for sx, sy, qx, _ in episodes
) / len(episodes)
print(
    f"\nuntrained-network accuracy over {len(episodes)} episodes, each episode's queries in one batch:"
    f" {100 * together.accuracy:.1f}% ± {100 * together.ci95:.1f}\n"
    f"{'':>35}queries in single-class batches: {100 * grouped.accuracy:.1f}%"
    f" ± {100 * grouped.ci95:.1f}"
)
print(f"share of query predictions that differ between the two: {100 * changed:.0f}%")
