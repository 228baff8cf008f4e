# ruff: noqa: F821  (StreamConfig, sample_tasks, query_mse, meta_train_stream and meta_train_joint
# come from glossary_continual-meta-learning_stream.py, included in the same executed block before)
# Three phases of least-squares task families share a common centre plus a phase offset. The
# stream visits them in order; the same held-out tasks of every phase (200 each) are scored after
# one inner step from the current initialisation, every 10 updates. Offline reference: the same
# number of updates on meta-batches drawn from all three phases at once.
import claims
import figures
import torch
from matplotlib import ticker

cfg = StreamConfig()
PHASES, HELD_OUT, EVERY = 3, 200, 10
g = torch.Generator().manual_seed(0)
centres = 1.5 * torch.randn(1, cfg.dim, generator=g, dtype=torch.float64) + torch.randn(
    PHASES, cfg.dim, generator=g, dtype=torch.float64
)  # (P, D): a shared centre plus one offset per phase
held_out = {
    p: sample_tasks(centres[p], HELD_OUT, cfg, torch.Generator().manual_seed(10 + p))
    for p in range(PHASES)
}
runs = {}
for name, replay in (("no replay", False), ("replay buffer", True)):
    runs[name] = meta_train_stream(
        centres, cfg, replay, torch.Generator().manual_seed(1), held_out, EVERY
    )[1]  # name -> phase -> per-task MSE at each evaluation
joint = meta_train_joint(centres, cfg, torch.Generator().manual_seed(2))
final = {name: {p: h[p][-1] for p in range(PHASES)} for name, h in runs.items()}
final["offline, all phases at once"] = {
    p: query_mse(joint, held_out[p], cfg.inner_lr).tolist() for p in range(PHASES)
}

# The page's sentences, checked against this output (paired over the same held-out tasks):
end_of_first = cfg.steps_per_phase // EVERY  # evaluation index when phase 0 has just ended
forgot = claims.greater(
    runs["no replay"][0][-1], runs["no replay"][0][end_of_first],
    "without replay, error on the first phase's tasks rises after the stream moves on",
)  # fmt: skip
kept = claims.greater(
    final["no replay"][0], final["replay buffer"][0],
    "at the end, replay beats no replay on the oldest phase",
)  # fmt: skip
plastic = claims.greater(
    final["replay buffer"][PHASES - 1], final["no replay"][PHASES - 1],
    "at the end, no replay is better on the current phase",
)  # fmt: skip
offline = claims.greater(
    final["replay buffer"][0], final["offline, all phases at once"][0],
    "offline meta-training on all phases stays better than replay on the first phase",
)  # fmt: skip

names = list(final)
steps = [i * EVERY for i in range(len(runs["no replay"][0]))]
fig, (curve, bars) = figures.canvas(size=(7.8, 3.8), ncols=2, width_ratios=(1.5, 1))
with figures.style():  # custom drawing: text and lines follow the page's palette
    for p in range(1, PHASES):
        curve.axvline(p * cfg.steps_per_phase, color=figures.MUTED, lw=1, ls="--")
    for p in range(PHASES):
        curve.text(
            (p + 0.5) * cfg.steps_per_phase, 1.02, f"phase {p} current", ha="center",
            va="bottom", fontsize=8, transform=curve.get_xaxis_transform(),
        )  # fmt: skip
    for i, name in enumerate(runs):
        cells = [claims.mean_ci(v) for v in runs[name][0]]
        mean = [c.mean for c in cells]
        curve.plot(steps, mean, color=figures.color(i), label=f"{name}, phase 0 tasks")
        curve.fill_between(
            steps, [c.low for c in cells], [c.high for c in cells], color=figures.color(i),
            alpha=0.18, lw=0,
        )  # fmt: skip
    curve.axhline(
        claims.mean_ci(final[names[2]][0]).mean, color=figures.color(2), ls=":", lw=1.4,
        label="offline, phase 0 tasks (end)",
    )  # fmt: skip
    curve.set_yscale("log")
    curve.set_xlabel("outer updates on the stream")
    curve.set_ylabel("held-out query MSE after adaptation")
    curve.legend(loc="upper right", fontsize=7)
    width = 0.25
    for i, name in enumerate(names):
        cells = [claims.mean_ci(final[name][p]) for p in range(PHASES)]
        bars.errorbar(
            [p + (i - 1) * width for p in range(PHASES)], [c.mean for c in cells],
            yerr=[c.ci95 for c in cells], color=figures.color(i), marker=figures.marker(i),
            ls="none", capsize=3, label=name,
        )  # fmt: skip
    bars.set_xticks(range(PHASES), [f"phase {p}" for p in range(PHASES)])
    bars.set_yscale("log")
    bars.set_ylabel("MSE at the end of the stream")
    bars.grid(False, axis="x")
    bars.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=7)
    for ax in (curve, bars):  # plain numbers on the log axes (no mathtext)
        ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
rows = [
    [name, *(f"{claims.mean_ci(final[name][p]).mean:.2f} ± {claims.mean_ci(final[name][p]).ci95:.2f}" for p in range(PHASES))]
    for name in names
]  # fmt: skip
print(
    figures.render(
        fig,
        alt="Left: held-out error on the first phase's tasks during the stream; both runs reach a "
        "low error while phase 0 is current, then the run without replay rises far higher than "
        "the run with a replay buffer. Right: error on each phase's tasks at the end of the "
        "stream for no replay, replay and offline training on all phases.",
        caption=f"{PHASES} phases of {cfg.steps_per_phase} outer updates, meta-batches of "
        f"{cfg.meta_batch_size} tasks ({cfg.k_shot}-shot linear regression in {cfg.dim} "
        f"dimensions, one inner step); the replay run fills half of each meta-batch from a "
        f"reservoir of {cfg.buffer_size} earlier tasks. Bands and bars: 95% confidence intervals "
        f"over {HELD_OUT} held-out tasks per phase; log scale.",
        numbers=figures.table(["meta-training", *(f"phase {p}" for p in range(PHASES))], rows),
    )
)
print(
    f"Paired differences of MSE over the same held-out tasks (95% CI): without replay, phase 0 "
    f"at the end − at the end of phase 0 {forgot.mean:+.2f} ± {forgot.ci95:.2f}; at the end, "
    f"phase 0, no replay − replay {kept.mean:+.2f} ± {kept.ci95:.2f}; phase {PHASES - 1}, "
    f"replay − no replay {plastic.mean:+.2f} ± {plastic.ci95:.2f}; phase 0, replay − offline "
    f"{offline.mean:+.2f} ± {offline.ci95:.2f}."
)
