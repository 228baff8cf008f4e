"""Transductive batch norm: one query's prediction depends on which other queries share its batch.

`reference_impl.protonet` embeds support and queries of an episode as one batch through a Conv-4
whose BatchNorm always uses the current batch's statistics. The network here is untrained (8
filters per block to keep the block fast): the effect is a property of the normalisation, not of
training. Episodes come from `reference_impl.evaluation.fixed_episodes` on real Omniglot test
characters, or on image-shaped synthetic tasks when the data is absent. Every query is scored in
its episode's batch (the evaluation protocol) and again in other batches; all comparisons are
paired over the same 20 episodes.
"""

import claims
import figures
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
    source = f"{len(characters)} Omniglot test characters (lake split)"
else:
    sx, _, qx, _ = make_sampler(cfg, "test", n_way=25, n_query=19, meta_batch_size=1)(
        torch.Generator().manual_seed(0)
    )
    data = torch.cat([sx[0].unflatten(0, (25, 5)), qx[0].unflatten(0, (25, 19))], 1)[:, :20]
    source = "synthetic image-shaped tasks (no Omniglot data under the default root)"

N_WAY, Q = 5, 5
episodes = fixed_episodes(data, n_way=N_WAY, k_shot=1, n_query=Q, num_episodes=20, seed=0)
OTHERS = 24  # copies of another class's query in the lopsided batch


def by_class(support_x, support_y, query_x):
    """Logits when the queries arrive in single-class batches (each batch: support + one class)."""
    labels = torch.arange(N_WAY).repeat_interleave(len(query_x) // N_WAY)
    logits = [predict(support_x, support_y, query_x[labels == k]) for k in labels.unique()]
    return torch.cat(logits)  # queries are class-major, so the order is preserved


shift = {"alone": [], "lopsided": []}  # per episode: mean L2 change of a query's logits
changed = {"alone": [], "lopsided": [], "single-class batches": []}  # per episode: share changed
with torch.no_grad():
    for support_x, support_y, query_x, _ in episodes:
        together = predict(support_x, support_y, query_x)  # (N*Q, N): the evaluation protocol
        followed = range(0, N_WAY * Q, 2 * Q)  # the first query of classes 0, 2, 4
        rebatched = {"alone": [], "lopsided": []}
        for j in followed:
            other = query_x[(j + Q) % (N_WAY * Q)].expand(OTHERS, -1, -1, -1)  # next class
            rebatched["alone"].append(predict(support_x, support_y, query_x[j : j + 1])[0])
            lopsided = torch.cat([query_x[j : j + 1], other])
            rebatched["lopsided"].append(predict(support_x, support_y, lopsided)[0])
        for name, logits in rebatched.items():
            logits = torch.stack(logits)  # (N, N)
            shift[name].append((logits - together[list(followed)]).norm(dim=-1).mean().item())
            moved = logits.argmax(-1) != together[list(followed)].argmax(-1)
            changed[name].append(moved.double().mean().item())
        grouped = by_class(support_x, support_y, query_x)
        changed["single-class batches"].append(
            (grouped.argmax(-1) != together.argmax(-1)).double().mean().item()
        )
    in_episode = evaluate_predictor(predict, episodes)
    single_class = evaluate_predictor(by_class, episodes)

# The page's sentences, checked against this output (paired over the 20 episodes):
claims.above(claims.mean_ci(shift["alone"]), 0, "the same image gets different logits alone")
claims.greater(
    shift["lopsided"], shift["alone"], "in this example a lopsided batch moves logits more"
)
claims.above(
    claims.mean_ci(changed["lopsided"]), 0, "in this example a lopsided batch changes predictions"
)
claims.above(
    claims.mean_ci(changed["single-class batches"]),
    0,
    "in this example single-class batches change a share of the predictions",
)
accuracy_change = claims.paired(single_class.per_episode, in_episode.per_episode)
claims.overlaps(
    accuracy_change, 0, "in this example the two batchings cannot be told apart on accuracy"
)

TICKS = {
    "alone": "alone with\nthe support",
    "lopsided": f"next to {OTHERS}\nof one class",
    "single-class batches": "single-class\nbatches",
}
fig, (left, right) = figures.canvas((6.8, 3.0), ncols=2)
with figures.style():  # legends, text and bars take the site's style when created
    for ax, values, ylabel in (
        (left, shift, "change of a query's logits (L2)"),
        (right, changed, "share of predictions changed"),
    ):
        stats = [claims.mean_ci(v) for v in values.values()]
        for i, p in enumerate(stats):
            ax.errorbar(
                [i], [p.mean], yerr=[p.ci95], color=figures.color(i), marker=figures.marker(i),
                capsize=3, ls="none",
            )  # fmt: skip
        ax.set_xticks(range(len(values)), [TICKS[n] for n in values])
        ax.set_xlim(-0.5, len(values) - 0.5)
        ax.set_ylim(0, None)
        ax.set_ylabel(ylabel)
        ax.grid(False, axis="x")
    right.set_ylim(0, 1)


def cell(values, as_percent=False):
    p = claims.mean_ci(values)
    return f"{p.mean:.1%} ± {p.ci95:.1%}" if as_percent else f"{p.mean:.2f} ± {p.ci95:.2f}"


rows = [
    ["alone with the support set", cell(shift["alone"]), cell(changed["alone"], True)],
    [f"with {OTHERS} copies of another class's query", cell(shift["lopsided"]),
     cell(changed["lopsided"], True)],
    ["queries in single-class batches", "", cell(changed["single-class batches"], True)],
]  # fmt: skip
print(
    figures.render(
        fig,
        alt="Left: how far one query's logits move when it is scored alone with the support set "
        "or next to many copies of another class's query, instead of in its episode: more in "
        "the lopsided batch. Right: the share of predictions that change in each re-batching.",
        caption=f"Untrained 5-way 1-shot ProtoNet on {source}; 20 fixed episodes, bars are 95% "
        "confidence intervals over episodes. Both panels compare with the same queries scored "
        "in their own episode's batch, the evaluation protocol.",
        numbers=figures.table(["batch", "logit change (L2)", "predictions changed"], rows),
    )
)
print(
    f"Accuracy over the {len(episodes)} episodes: {in_episode.accuracy:.1%} ± "
    f"{in_episode.ci95:.1%} with each episode's queries in one batch, {single_class.accuracy:.1%} "
    f"± {single_class.ci95:.1%} in single-class batches (paired difference "
    f"{100 * accuracy_change.mean:+.1f} ± {100 * accuracy_change.ci95:.1f} points)."
)
