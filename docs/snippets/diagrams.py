"""The site's three conceptual diagrams, drawn once here and printed by the pages that need them.

* `episode()`: the anatomy of an episode (N-way K-shot support and query sets, and labels that
  are re-assigned in every episode).
* `maml_loops()`: MAML's inner loop (per task, on its support set) and outer loop (across tasks,
  through the query losses of the adapted parameters).
* `families()`: the three families of methods: what each learns and how each adapts.

They are drawn with matplotlib through `figures`, so they share the figures' palette handling
(text and lines follow the page's foreground colour, marks use the series colours), alt text and
determinism. A page prints one with an executed block:

    import diagrams
    print(diagrams.episode())
"""

from __future__ import annotations

from typing import Any

import figures
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

_GLYPHS = "αβγδεζηθλμξπ"


def _box(ax: Any, x: float, y: float, w: float, h: float, colour: str, fill: float = 0.14) -> None:
    ax.add_patch(
        FancyBboxPatch(
            (x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08", lw=1.2,
            edgecolor=colour, facecolor=colour, alpha=1.0, fill=False,
        )
    )  # fmt: skip
    ax.add_patch(
        FancyBboxPatch(
            (x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08", lw=0,
            facecolor=colour, alpha=fill,
        )
    )  # fmt: skip


def _arrow(ax: Any, start: tuple[float, float], end: tuple[float, float], **kw: Any) -> None:
    style = {"arrowstyle": "-|>", "mutation_scale": 12, "lw": 1.2, "color": figures.FOREGROUND}
    style.update(kw)
    ax.add_patch(FancyArrowPatch(start, end, **style))


def _blank(size: tuple[float, float]) -> tuple[Any, Any]:
    fig, ax = figures.canvas(size)
    ax.set_axis_off()
    ax.set_xlim(0, size[0])
    ax.set_ylim(0, size[1])
    ax.set_aspect("equal")
    return fig, ax


def _card(ax: Any, x: float, y: float, glyph: str, colour: str, label: str | None) -> None:
    """One example: a small tile showing its class (a glyph), with its episode label under it."""
    _box(ax, x, y, 0.42, 0.42, colour, fill=0.22)
    ax.text(x + 0.21, y + 0.21, glyph, ha="center", va="center", fontsize=12)
    if label is not None:
        ax.text(x + 0.21, y - 0.12, label, ha="center", va="center", fontsize=8)


def episode() -> str:
    """The anatomy of two 3-way 2-shot episodes drawn from one pool of classes."""
    with figures.style():
        n_way, k_shot, n_query = 3, 2, 2
        fig, ax = _blank((9.0, 4.0))
        ax.text(0.1, 3.75, "class pool", fontsize=10, weight="bold")
        for i, glyph in enumerate(_GLYPHS[:8]):
            _card(ax, 0.1 + (i % 2) * 0.55, 2.95 - (i // 2) * 0.7, glyph, figures.MUTED, None)
        picks = [(0, 3, 6), (3, 1, 5)]  # the classes each episode draws, in label order
        for e, pick in enumerate(picks):
            top = 3.75 - e * 1.95
            left = 2.0
            ax.text(
                left, top, f"episode {e + 1}: {n_way}-way {k_shot}-shot", fontsize=10, weight="bold"
            )
            _arrow(ax, (1.25, 2.2), (left - 0.1, top - 0.65), color=figures.MUTED, lw=1)
            ax.text(left, top - 0.3, "support set (labelled)", fontsize=8)
            ax.text(left + 3.55, top - 0.3, "query set (labels hidden, scored)", fontsize=8)
            for label, cls in enumerate(pick):
                colour = figures.color(label)
                for k in range(k_shot):
                    _card(
                        ax,
                        left + (label * k_shot + k) * 0.55,
                        top - 1.0,
                        _GLYPHS[cls],
                        colour,
                        f"y={label}",
                    )
                for q in range(n_query):
                    _card(
                        ax,
                        left + 3.55 + (label * n_query + q) * 0.55,
                        top - 1.0,
                        _GLYPHS[cls],
                        colour,
                        "?",
                    )
        ax.text(
            2.0, 0.05,
            "The same label means a different class in each episode: label 0 is α in episode 1, δ in "
            "episode 2.", fontsize=8, style="italic",
        )  # fmt: skip
    return figures.render(
        fig,
        name="diagram-episode",
        alt="Two 3-way 2-shot episodes drawn from a pool of eight classes. Each has a support set "
        "of two labelled examples per class and a query set of two unlabelled examples per class; "
        "the labels 0, 1, 2 are assigned afresh, so label 0 is a different class in each episode.",
        caption="An episode: draw N classes from the pool, K labelled support examples and Q query "
        "examples of each, and number the classes 0..N−1 in a random order. A learner sees the "
        "support set, predicts the query labels, and is scored on them.",
    )


def maml_loops() -> str:
    """MAML's two loops: inner steps per task from θ, one outer step on θ through the query losses."""
    with figures.style():
        fig, ax = _blank((9.0, 3.8))
        path = [(0.6, 0.7), (1.7, 1.35), (2.9, 1.7), (4.0, 1.95)]
        xs, ys = zip(*path, strict=True)
        ax.plot(xs, ys, color=figures.FOREGROUND, lw=2.2)
        ax.plot(xs[:-1], ys[:-1], "o", color=figures.FOREGROUND, ms=4)
        ax.plot([xs[-1]], [ys[-1]], "o", color=figures.FOREGROUND, ms=7)
        ax.text(xs[-1] - 0.15, ys[-1] - 0.35, "θ", fontsize=13, ha="right")
        ax.text(0.45, 0.3, "outer loop: θ ← θ − β ∇θ Σᵢ L_Qᵢ(θ′ᵢ)", fontsize=9)
        ax.text(
            0.45,
            0.02,
            "(one meta-update per batch of tasks; the path of θ)",
            fontsize=8,
            style="italic",
        )
        targets = [(5.4, 3.2), (5.9, 2.0), (5.3, 0.8)]
        for i, (tx, ty) in enumerate(targets):
            colour = figures.color(i)
            _arrow(ax, (xs[-1] + 0.08, ys[-1]), (tx, ty), color=colour, lw=1.6, linestyle="--")
            ax.plot([tx], [ty], "o", color=colour, ms=6)
            ax.text(
                tx + 0.12,
                ty + 0.08,
                f"θ′{'₁₂₃'[i]} = θ − α∇θ L_S{'₁₂₃'[i]}(θ)",
                fontsize=9,
                color=colour,
            )
            ax.text(
                tx + 0.12,
                ty - 0.22,
                f"task {i + 1}: adapt on its support set",
                fontsize=7.5,
                color=colour,
            )
        ax.text(4.35, 3.55, "inner loop (per task)", fontsize=9, weight="bold")
    return figures.render(
        fig,
        name="diagram-maml",
        alt="A path of the meta-parameters θ over meta-updates. From the current θ, three dashed "
        "arrows lead to task-specific parameters θ′1, θ′2, θ′3, each one gradient step on that "
        "task's support loss; the outer update moves θ along the path using the query losses at "
        "the adapted parameters.",
        caption="MAML's two loops. Inner loop: for each task, a few gradient steps from θ on its "
        "support set give θ′ (dashed). Outer loop: θ moves to lower the query losses at the θ′, "
        "differentiating through the inner steps, so θ becomes a start from which a few steps "
        "suffice (solid path).",
    )


def families() -> str:
    """What each family learns and how it adapts, as three rows from support set to prediction."""
    with figures.style():
        fig, ax = _blank((9.0, 4.2))
        rows = [
            ("Optimisation-based", "learns: an initialisation θ", "adapts: gradient steps θ → θ′"),
            ("Metric-based", "learns: an embedding f", "adapts: class means, nearest one"),
            ("Model-based", "learns: a network that reads", "adapts: writes fast weights W"),
        ]
        for i, (name, learns, adapts) in enumerate(rows):
            y = 3.25 - i * 1.35
            colour = figures.color(i)
            _box(ax, 0.1, y, 1.7, 0.8, figures.MUTED)
            ax.text(
                0.95, y + 0.4, "support set\n(N·K labelled)", ha="center", va="center", fontsize=8
            )
            _arrow(ax, (1.9, y + 0.4), (2.5, y + 0.4))
            _box(ax, 2.6, y, 3.4, 0.8, colour, fill=0.2)
            ax.text(2.72, y + 0.58, name, fontsize=9.5, weight="bold", va="center", color=colour)
            ax.text(2.72, y + 0.32, learns, fontsize=8, va="center")
            ax.text(2.72, y + 0.1, adapts, fontsize=8, va="center")
            _arrow(ax, (6.1, y + 0.4), (6.7, y + 0.4))
            _box(ax, 6.8, y, 2.0, 0.8, figures.MUTED)
            ax.text(7.8, y + 0.4, "predict the\nquery labels", ha="center", va="center", fontsize=8)
    return figures.render(
        fig,
        name="diagram-families",
        alt="Three rows, one per family, each going from a support set through the family's "
        "mechanism to predictions for the query set: optimisation-based learns an initialisation "
        "and adapts by gradient steps; metric-based learns an embedding and adapts by class means "
        "and nearest neighbour; model-based learns a network that writes the support set into "
        "fast weights.",
        caption="The three families of meta-learning differ in what is learned across tasks and "
        "in how a new task's support set changes the prediction for its queries.",
    )
