"""Write one held-out episode into the fast weights example by example; plot W and accuracy.

Expects `model` and `cfg` from the page's training block; leaves `fig` and `accuracy` for the
page to render with the figure helper.
"""

from dataclasses import replace

import figures
import torch
import torch.nn.functional as F

from reference_impl.fast_weights import read, sample_tasks, write

demo = replace(cfg, k_shot=2, n_query=10, meta_batch_size=200)  # noqa: F821 (page session)
support_x, support_y, query_x, query_y = sample_tasks(demo, torch.Generator().manual_seed(7))
order = torch.arange(demo.n_way * demo.k_shot).view(demo.n_way, demo.k_shot).T.flatten()
support_x, support_y = (
    support_x[:, order],
    support_y[:, order],
)  # round-robin: shot 1 of every class, then shot 2

with torch.no_grad():
    keys, beta = model(torch.cat([support_x, query_x], dim=1))  # noqa: F821 (page session)
    n_support = support_x.shape[1]
    values = F.one_hot(support_y, demo.n_way).to(keys.dtype)  # (T, N*K, N)
    fast_weights = keys.new_zeros(demo.meta_batch_size, demo.n_way, demo.key_dim)
    snapshots, accuracy = [], []
    for i in range(n_support):  # one pass, to show each write
        fast_weights = write(fast_weights, keys[:, i], values[:, i], beta[:, i])
        snapshots.append(fast_weights[0].clone())
        logits = read(fast_weights, keys[:, n_support:])  # (T, N*Q, N)
        accuracy.append((logits.argmax(-1) == query_y).float().mean().item())

fig, panels = figures.canvas(
    (7.6, 3.6), ncols=n_support, nrows=2, gridspec_kw={"height_ratios": [1.0, 1.5]}
)
with figures.style():
    grid = panels[1, 0].get_gridspec()
    for ax in panels[1]:
        ax.remove()  # the bottom row becomes one axis across all columns
    limit = max(s.abs().max().item() for s in snapshots)
    for i, snap in enumerate(snapshots):
        ax = panels[0, i]
        ax.pcolormesh(
            snap.numpy(),
            cmap="RdBu_r",
            vmin=-limit,
            vmax=limit,
            edgecolors="face",
            antialiased=False,
        )
        ax.invert_yaxis()
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        ax.set_title(f"{i + 1}: y={support_y[0, i].item()}", fontsize=7, color=figures.FOREGROUND)
        if i == 0:
            ax.set_ylabel("class", fontsize=7, color=figures.FOREGROUND)
    curve = fig.add_subplot(grid[1, :])
    writes = list(range(1, n_support + 1))
    curve.plot(writes, accuracy, marker="o", color=figures.color(0), label="query accuracy")
    curve.axhline(1 / demo.n_way, color=figures.FOREGROUND, ls=":", lw=1, label="chance")
    curve.set_xticks(writes)
    curve.set_ylim(0, 1)
    curve.set_xlabel("support examples written", fontsize=8, color=figures.FOREGROUND)
    curve.set_ylabel("query accuracy", fontsize=8, color=figures.FOREGROUND)
    curve.tick_params(labelsize=7, colors=figures.FOREGROUND)
    curve.grid(True, color=figures.MUTED, lw=0.6)
    curve.legend(fontsize=7, frameon=False, labelcolor=figures.FOREGROUND, loc="center right")
    for spine in ("top", "right"):
        curve.spines[spine].set_visible(False)
    for spine in ("left", "bottom"):
        curve.spines[spine].set_color(figures.FOREGROUND)
