# Fits on one held-out sine task: before adaptation and after 10 inner steps on its 10 support points.
# Runs in the page's session after maml_sinusoid_train.py, which defines `cfg` and `models`.
# ruff: noqa: F821
import dataclasses
import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from reference_impl.maml import make_predict

plt.rcParams["svg.hashsalt"] = "maml-sinusoid"
plt.rcParams["svg.fonttype"] = "none"
generator = torch.Generator().manual_seed(7)
amplitude, phase = 3.0, 0.8 * math.pi
support_x = torch.rand(cfg.k_shot, 1, generator=generator) * 10 - 5  # (K, 1)
support_y = amplitude * torch.sin(support_x - phase)
grid = torch.linspace(-5, 5, 200).unsqueeze(1)  # (200, 1)

fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
for ax, (name, model) in zip(axes, models.items(), strict=True):
    ax.plot(grid, amplitude * torch.sin(grid - phase), color="black", lw=1, label="true function")
    before = make_predict(model, dataclasses.replace(cfg, test_inner_steps=0))(
        support_x, support_y, grid
    )
    after = make_predict(model, cfg)(support_x, support_y, grid)
    ax.plot(grid, before, "--", color="tab:gray", label="before adaptation")
    ax.plot(
        grid, after, color="tab:blue" if name == "MAML" else "tab:orange", label="after 10 steps"
    )
    ax.scatter(support_x, support_y, color="black", s=14, zorder=3, label="support points (K = 10)")
    ax.set_title(name if name == "MAML" else "pretrained on all tasks")
    ax.set_xlabel("x")
axes[0].legend(fontsize=7, loc="lower left")
fig.tight_layout()
buffer = io.StringIO()
fig.savefig(buffer, format="svg", metadata={"Date": None})
plt.close(fig)
print(buffer.getvalue())
