# ruff: noqa: F821  (binding_episodes, instance_index, run_binding and run_binding_fifo come from
# glossary_memory-augmented-networks_memory.py, included in the same executed block just before)
# The online binding task of Santoro et al.: 5 new classes per episode, each shown 10 times in a
# random order, the label revealed after each prediction. Accuracy by presentation number, for
# memories of different sizes, with least-used writes and with a ring buffer.
import itertools

import claims
import figures
import torch

N_WAY, INSTANCES, DIM, NOISE, EPISODES = 5, 10, 20, 0.8, 400
SHARPNESS, GATE, DECAY, SLOTS = 5.0, 0.0, 0.95, (5, 10, 20, 50)
x, y = binding_episodes(N_WAY, INSTANCES, DIM, NOISE, EPISODES, torch.Generator().manual_seed(0))
instance = instance_index(y, N_WAY)  # (E, L)
LATE = INSTANCES // 2  # "late" presentations: the second half


def by_instance(correct: torch.Tensor) -> list[claims.Interval]:
    """Accuracy at each presentation number, 95% interval over episodes."""
    return [
        claims.mean_ci(
            (correct.double() * (instance == i)).sum(1).div((instance == i).sum(1)).tolist()
        )
        for i in range(INSTANCES)
    ]


def late_accuracy(correct: torch.Tensor) -> list[float]:
    """Per-episode accuracy over the late presentations."""
    late = instance >= LATE
    return (correct.double() * late).sum(1).div(late.sum(1)).tolist()


runs = {("least used", m): run_binding(x, y, N_WAY, m, SHARPNESS, GATE, DECAY) for m in SLOTS}
runs.update({("ring buffer", m): run_binding_fifo(x, y, N_WAY, m, SHARPNESS) for m in SLOTS})
curves = {key: by_instance(correct) for key, correct in runs.items()}
late = {key: late_accuracy(correct) for key, correct in runs.items()}

# The page's sentences, checked against this output (paired over the same episodes):
largest = ("least used", SLOTS[-1])
claims.check(all(not bool(c[instance == 0].any()) for c in runs.values()),
             "a first presentation is never answered from memory")  # fmt: skip
claims.above(curves[largest][1], 0.5, "one stored example answers most second presentations")
claims.increasing([curves[largest][1], curves[largest][LATE]],
                  "more stored examples per class raise accuracy")  # fmt: skip
for small, big in itertools.pairwise(SLOTS):
    claims.greater(late["least used", big], late["least used", small],
                   f"late accuracy falls from {big} to {small} slots")  # fmt: skip
ring_gain = {
    m: claims.greater(
        late["ring buffer", m],
        late["least used", m],
        f"with {m} slots the ring buffer beats usage-based eviction",
    )
    for m in SLOTS
    if m < N_WAY * INSTANCES  # memories too small for the whole episode
}
claims.overlaps(
    claims.paired(late["ring buffer", SLOTS[-1]], late["least used", SLOTS[-1]]),
    0.0,
    f"with {SLOTS[-1]} slots, enough for the whole episode, the two write rules coincide",
)

fig, (left, right) = figures.canvas(size=(7.6, 3.8), ncols=2)
presentations = list(range(1, INSTANCES + 1))
with figures.style():  # custom drawing: text and lines follow the page's palette
    for i, m in enumerate(SLOTS[::-1]):
        cells = curves["least used", m]
        left.plot(presentations, [c.mean for c in cells], color=figures.color(i),
                  marker=figures.marker(i), label=f"{m} slots")  # fmt: skip
        left.fill_between(presentations, [c.low for c in cells], [c.high for c in cells],
                          color=figures.color(i), alpha=0.15, lw=0)  # fmt: skip
    left.axhline(1 / N_WAY, color=figures.FOREGROUND, lw=1, ls=":", label="chance")
    left.set_xticks(presentations)
    left.set_ylim(-0.02, 1.02)
    left.set_xlabel("presentation of the class in the episode")
    left.set_ylabel("accuracy (least-used writes)")
    left.legend(loc="lower right", fontsize=7)
    for i, rule in enumerate(("least used", "ring buffer")):
        cells = [claims.mean_ci(late[rule, m]) for m in SLOTS]
        right.errorbar(SLOTS, [c.mean for c in cells], yerr=[c.ci95 for c in cells],
                       color=figures.color(i), marker=figures.marker(i), ls=("-", "--")[i],
                       capsize=3, label=rule)  # fmt: skip
    right.axvline(N_WAY * INSTANCES, color=figures.MUTED, lw=1, ls=":")
    right.set_xscale("log")
    right.set_xticks(list(SLOTS), [str(m) for m in SLOTS])
    right.minorticks_off()
    right.set_xlabel("memory slots (log scale)")
    right.set_ylabel(f"accuracy, presentations {LATE + 1}-{INSTANCES}")
    right.legend(loc="lower right", fontsize=7)

rows = [
    [f"{rule}, {m} slots", *(f"{c.mean:.2f}" for c in curves[rule, m]),
     f"{claims.mean_ci(late[rule, m]).mean:.3f} ± {claims.mean_ci(late[rule, m]).ci95:.3f}"]
    for rule in ("least used", "ring buffer") for m in SLOTS
]  # fmt: skip
print(
    figures.render(
        fig,
        alt="Left: accuracy against the presentation number of a class for memories of 50, 20, "
        "10 and 5 slots; the first presentation is always wrong, later ones are mostly right, "
        "and smaller memories plateau lower. Right: late-presentation accuracy against memory "
        "size for least-used writes and for a ring buffer.",
        caption=f"{N_WAY} new classes per episode, {INSTANCES} presentations each in random "
        f"order, {EPISODES} episodes; fixed controller (keys are the {DIM}-dimensional inputs), "
        f"read sharpness {SHARPNESS:g}, write gate {GATE:g}, usage decay {DECAY:g}. Bands and bars: "
        "95% intervals over episodes. Dotted vertical line: slots for every example of an episode.",
        numbers=figures.table(
            ["memory", *(f"presentation {p}" for p in presentations), "late accuracy"], rows
        ),
    )
)
print(
    "Late accuracy, ring buffer − least used (paired over episodes): "
    + "; ".join(f"{m} slots {g.mean:+.3f} ± {g.ci95:.3f}" for m, g in ring_gain.items())
    + "."
)
