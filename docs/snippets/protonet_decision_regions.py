"""Train a 2-D embedding on a toy task family; draw one unseen 4-way task in input and embedding space."""

from dataclasses import replace

import figures
import torch
from torch import nn

from reference_impl.protonet import (
    ProtoNetConfig,
    evaluate,
    make_predict,
    make_sampler,
    prototype_logits,
    prototypes,
    train,
)

# Inputs are 2-D: one coordinate carries the class, one is nuisance; a fixed warp bends both.
cfg = replace(
    ProtoNetConfig.synthetic(),
    x_dim=2,
    latent_dim=1,
    embedding_dim=2,
    mlp_hidden=32,
    class_std=0.05,
    warp_gain=1.0,
    n_way=10,
    outer_lr=3e-3,
    train_steps=150,
    lr_halve_every=75,
    test_n_way=4,
    test_episodes=100,
)
torch.manual_seed(0)
model, losses = train(cfg)
learned = evaluate(model, cfg)["accuracy"]
raw = evaluate(nn.Flatten(), cfg)["accuracy"]

# One 4-way 5-shot task of held-out classes.
task = make_sampler(cfg, "test", n_way=4, n_query=10, meta_batch_size=1)
support_x, support_y, query_x, query_y = (t[0] for t in task(torch.Generator().manual_seed(3)))
predict = make_predict(model, cfg)

lo = torch.cat([support_x, query_x]).min(0).values - 0.5
hi = torch.cat([support_x, query_x]).max(0).values + 0.5
res = 120
axes_1d = [torch.linspace(lo[i].item(), hi[i].item(), res) for i in range(2)]
grid = torch.stack(torch.meshgrid(*axes_1d, indexing="xy"), dim=-1).reshape(-1, 2)  # (res*res, 2)
input_regions = predict(support_x, support_y, grid).argmax(-1).reshape(res, res)

with torch.no_grad():
    z_support, z_query = model(support_x), model(query_x)
    protos = prototypes(z_support, support_y, 4)  # (4, 2)
z_all = torch.cat([z_support, z_query, protos])
z_lo, z_hi = z_all.min(0).values, z_all.max(0).values
pad = 0.15 * (z_hi - z_lo)
z_lo, z_hi = z_lo - pad, z_hi + pad
z_axes = [torch.linspace(z_lo[i].item(), z_hi[i].item(), res) for i in range(2)]
z_grid = torch.stack(torch.meshgrid(*z_axes, indexing="xy"), dim=-1).reshape(-1, 2)
embed_regions = prototype_logits(z_grid, protos).argmax(-1).reshape(res, res)

fig, (ax_in, ax_emb) = figures.canvas((7.6, 3.5), ncols=2)
panels = [
    (ax_in, input_regions, axes_1d, support_x, query_x, None, "input space x"),
    (ax_emb, embed_regions, z_axes, z_support, z_query, protos, "embedding space f(x)"),
]
with figures.style():
    for ax, regions, (gx, gy), sx, qx, centres, title in panels:
        ax.contourf(gx, gy, regions, levels=[-0.5, 0.5, 1.5, 2.5, 3.5],
                    colors=[figures.color(k) for k in range(4)], alpha=0.22, antialiased=False)  # fmt: skip
        for k in range(4):
            c = figures.color(k)
            ax.scatter(*qx[query_y == k].T, s=14, color=c, marker="x", linewidths=0.9)
            ax.scatter(
                *sx[support_y == k].T, s=24, color=c, edgecolors=figures.FOREGROUND, linewidths=0.6
            )
            if centres is not None:
                ax.scatter(
                    *centres[k],
                    s=190,
                    color=c,
                    marker="*",
                    edgecolors=figures.FOREGROUND,
                    linewidths=0.8,
                )
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
query_accuracy = (
    (predict(support_x, support_y, query_x).argmax(-1) == query_y).float().mean().item()
)
