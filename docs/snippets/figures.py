"""Figures for the docs' executed blocks: matplotlib in, one inline SVG `<figure>` out.

Every figure on the site goes through this module, so they all share one look and one set of
guarantees:

* **Deterministic.** The same data give byte-identical SVG on every build: the SVG hash salt is
  fixed per figure, the metadata date and creator are dropped, and element ids are prefixed with a
  name derived from the alt text, so two figures on one page never share an id.
* **Small and searchable.** Text stays text (`svg.fonttype = "none"`), not glyph paths.
* **Readable in both palettes.** Nothing is drawn in a fixed colour that depends on the
  background: text, axes and grid use the page's own foreground colour
  (`var(--md-default-fg-color)`), series use `var(--mlg-fig-0)`... `var(--mlg-fig-5)`, defined
  in `docs/stylesheets/extra.css` once for the light and once for the dark scheme (the browser
  tests check their contrast against each background). The background is transparent.
* **Accessible.** The SVG has `role="img"`, an `aria-label` and a `<title>` (the alt text), and
  a visible `<figcaption>`; the numbers behind the figure can go in a collapsed table
  (`numbers=`), so a reader who wants the values does not have to read them off the axes.
* **Offline.** No JavaScript, no fonts or scripts from elsewhere: the figure is part of the page.

Typical use inside an executed block (``source="tabbed-right"``, no ``result=``, so the printed
HTML is rendered):

    import figures

    fig = figures.line(
        [figures.Series("N = 5", shots, accuracy, ci=ci)],
        x_label="shots per class K", y_label="query accuracy",
    )
    print(figures.render(fig, alt="...", caption="...", numbers=figures.table(head, rows)))

`canvas()` gives a styled `(figure, axes)` pair for drawings the plot types do not cover; draw
inside `with figures.style():` and colour marks with `color(i)`, `FOREGROUND` and `MUTED`, so they
follow the palette too.
"""

from __future__ import annotations

import hashlib
import html
import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

# Sentinel colours: drawn by matplotlib, then replaced by CSS variables in the SVG text. They are
# near-black values no figure would choose, so a replacement cannot hit a real colour.
FOREGROUND = "#000200"
"""Colour of text, axes and reference lines: becomes the page's foreground colour."""
MUTED = "#000201"
"""Colour of grid lines and secondary marks: the page's lighter foreground colour."""
_SERIES = tuple(f"#0001{i:02x}" for i in range(6))
_CSS = {
    FOREGROUND: "var(--md-default-fg-color)",
    MUTED: "var(--md-default-fg-color--lighter)",
    **{sentinel: f"var(--mlg-fig-{i}, #5f6b7a)" for i, sentinel in enumerate(_SERIES)},
}
PALETTE_SIZE = len(_SERIES)
"""Number of distinct series colours (`color(i)` cycles after this many)."""
_MARKERS = ("o", "s", "^", "D", "v", "P")
_LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)))

_STYLE: dict[str, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "text.color": FOREGROUND,
    "axes.labelcolor": FOREGROUND,
    "axes.edgecolor": FOREGROUND,
    "axes.titlecolor": FOREGROUND,
    "xtick.color": FOREGROUND,
    "ytick.color": FOREGROUND,
    "grid.color": MUTED,
    "grid.linewidth": 0.6,
    "axes.grid": True,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.facecolor": "none",
    "figure.facecolor": "none",
    "savefig.facecolor": "none",
    "savefig.edgecolor": "none",
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "lines.markersize": 5,
    "path.simplify": True,
}


def color(i: int) -> str:
    """Series colour `i` (cycles after `PALETTE_SIZE`); use it for anything drawn by hand."""
    return _SERIES[i % len(_SERIES)]


def marker(i: int) -> str:
    """Marker of series `i`, so series differ in shape as well as colour."""
    return _MARKERS[i % len(_MARKERS)]


@dataclass(frozen=True)
class Series:
    """One labelled series: `y` against `x`, optionally with a symmetric interval `ci`."""

    label: str
    """Legend entry."""
    x: Sequence[float]
    """Horizontal positions."""
    y: Sequence[float]
    """Values."""
    ci: Sequence[float] | None = None
    """Half-width of the interval around each `y` (e.g. a 95% CI), drawn as a band or bars."""

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise ValueError(f"series {self.label!r}: {len(self.x)} x values but {len(self.y)} y")
        if self.ci is not None and len(self.ci) != len(self.y):
            raise ValueError(f"series {self.label!r}: {len(self.ci)} ci values for {len(self.y)} y")


def _floats(values: Iterable[Any]) -> list[float]:
    return [float(v) for v in values]


def style() -> Any:
    """Context manager with the site's figure style; draw custom artists inside it.

    Colours and fonts are read when an artist is created, so text or lines added to a `canvas`
    outside `with figures.style():` fall back to matplotlib's black, which the dark palette
    cannot show (the browser tests would fail on it).
    """
    return plt.rc_context(_STYLE)


def canvas(
    size: tuple[float, float] = (6.0, 3.2), ncols: int = 1, nrows: int = 1, **kwargs: Any
) -> tuple[Figure, Any]:
    """A styled, transparent matplotlib figure and its axes (an array when `ncols`/`nrows` > 1).

    Draw on it inside `with figures.style():` so custom text and lines follow the palette.
    """
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(nrows, ncols, figsize=size, **kwargs)
    return fig, axes


def _finish(
    ax: Any,
    x_label: str,
    y_label: str,
    title: str | None,
    x_scale: str,
    y_scale: str,
    y_lim: tuple[float, float] | None,
    legend: bool,
    legend_loc: str = "best",
) -> None:
    with plt.rc_context(_STYLE):
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        if title:
            ax.set_title(title)
        ax.set_xscale(x_scale)
        ax.set_yscale(y_scale)
        if y_lim is not None:
            ax.set_ylim(*y_lim)
        handles, labels = ax.get_legend_handles_labels()
        if legend and handles and legend_loc == "above":  # over the axes, never over the data
            longest = max(len(label) for label in labels)
            columns = 3 if longest <= 22 else 2 if longest <= 36 else 1
            ax.legend(
                loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(len(handles), columns)
            )
        elif legend and handles:
            ax.legend(loc=legend_loc)


def _reference_line(ax: Any, y: float | None, label: str) -> None:
    if y is not None:
        ax.axhline(y, color=FOREGROUND, lw=1, ls=":", label=label, zorder=1)


def line(
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    title: str | None = None,
    x_scale: str = "linear",
    y_scale: str = "linear",
    y_lim: tuple[float, float] | None = None,
    reference: float | None = None,
    reference_label: str = "chance",
    legend_loc: str = "best",
    size: tuple[float, float] = (6.0, 3.2),
) -> Figure:
    """Lines with markers, one per series; a `ci` is drawn as a shaded band.

    Args:
        series: The lines, in legend order.
        x_label: Horizontal axis label (say the unit).
        y_label: Vertical axis label.
        title: Optional title above the axes.
        x_scale: `"linear"` or `"log"` (matplotlib scale names).
        y_scale: As `x_scale`, for the vertical axis.
        y_lim: Optional `(low, high)` of the vertical axis.
        reference: Optional horizontal reference line (e.g. chance accuracy).
        reference_label: Legend entry of the reference line.
        legend_loc: Matplotlib legend location, or `"above"` for a legend over the axes.
        size: Figure size in inches.

    Returns:
        The matplotlib figure; pass it to `render`.
    """
    fig, ax = canvas(size)
    with plt.rc_context(_STYLE):
        for i, s in enumerate(series):
            x, y = _floats(s.x), _floats(s.y)
            ax.plot(x, y, color=color(i), marker=marker(i), ls=_LINESTYLES[i % 6], label=s.label)
            if s.ci is not None:
                ci = _floats(s.ci)
                low = [a - b for a, b in zip(y, ci, strict=True)]
                high = [a + b for a, b in zip(y, ci, strict=True)]
                ax.fill_between(x, low, high, color=color(i), alpha=0.18, lw=0)
        _reference_line(ax, reference, reference_label)
    _finish(ax, x_label, y_label, title, x_scale, y_scale, y_lim, True, legend_loc)
    _data_ticks(ax, series, x_scale)
    return fig


def _data_ticks(ax: Any, series: Sequence[Series], x_scale: str) -> None:
    """On a log axis with few distinct x values, tick exactly those values with plain labels."""
    xs = sorted({float(v) for s in series for v in s.x})
    if x_scale == "log" and 1 < len(xs) <= 12:
        ax.set_xticks(xs, [f"{v:g}" for v in xs])
        ax.minorticks_off()


def scatter(
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    title: str | None = None,
    diagonal: bool = False,
    x_scale: str = "linear",
    y_scale: str = "linear",
    y_lim: tuple[float, float] | None = None,
    reference: float | None = None,
    reference_label: str = "chance",
    legend_loc: str = "best",
    size: tuple[float, float] = (6.0, 3.2),
) -> Figure:
    """Points, one marker shape and colour per series; a `ci` is drawn as vertical error bars.

    Args:
        series: The point sets, in legend order.
        x_label: Horizontal axis label.
        y_label: Vertical axis label.
        title: Optional title.
        diagonal: Draw the line `y = x` (for "ours against theirs" plots).
        x_scale: `"linear"` or `"log"`.
        y_scale: As `x_scale`, for the vertical axis.
        y_lim: Optional `(low, high)` of the vertical axis.
        reference: Optional horizontal reference line.
        reference_label: Legend entry of the reference line.
        legend_loc: Matplotlib legend location, or `"above"` for a legend over the axes.
        size: Figure size in inches.

    Returns:
        The matplotlib figure; pass it to `render`.
    """
    fig, ax = canvas(size)
    with plt.rc_context(_STYLE):
        for i, s in enumerate(series):
            x, y = _floats(s.x), _floats(s.y)
            ci = None if s.ci is None else _floats(s.ci)
            ax.errorbar(
                x, y, yerr=ci, color=color(i), marker=marker(i), ls="none", capsize=3,
                label=s.label, elinewidth=1.2,
            )  # fmt: skip
        if diagonal:
            low, high = ax.get_xlim()
            ax.plot([low, high], [low, high], color=MUTED, lw=1, ls="--", label="y = x", zorder=1)
        _reference_line(ax, reference, reference_label)
    _finish(ax, x_label, y_label, title, x_scale, y_scale, y_lim, True, legend_loc)
    _data_ticks(ax, series, x_scale)
    return fig


def intervals(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    y_label: str,
    title: str | None = None,
    y_lim: tuple[float, float] | None = None,
    reference: float | None = None,
    reference_label: str = "chance",
    legend_loc: str = "best",
    size: tuple[float, float] = (6.0, 3.2),
) -> Figure:
    """Point and interval per category, series side by side (e.g. ours, the baseline, the paper).

    Each series' `x` holds category indices (`0 .. len(categories)-1`), so a series may skip a
    category it has no value for.

    Args:
        categories: Tick labels along the horizontal axis.
        series: One entry per compared source; `ci` draws the interval.
        y_label: Vertical axis label.
        title: Optional title.
        y_lim: Optional `(low, high)` of the vertical axis.
        reference: Optional horizontal reference line.
        reference_label: Legend entry of the reference line.
        legend_loc: Matplotlib legend location, or `"above"` for a legend over the axes.
        size: Figure size in inches.

    Returns:
        The matplotlib figure; pass it to `render`.
    """
    fig, ax = canvas(size)
    width = 0.7 / max(1, len(series))
    with plt.rc_context(_STYLE):
        for i, s in enumerate(series):
            offset = (i - (len(series) - 1) / 2) * width
            x = [float(v) + offset for v in s.x]
            ci = None if s.ci is None else _floats(s.ci)
            ax.errorbar(
                x, _floats(s.y), yerr=ci, color=color(i), marker=marker(i), ls="none",
                capsize=3, label=s.label, elinewidth=1.2,
            )  # fmt: skip
        _reference_line(ax, reference, reference_label)
    _finish(ax, "", y_label, title, "linear", "linear", y_lim, True, legend_loc)
    with plt.rc_context(_STYLE):  # after _finish: setting the scale there resets the ticks
        ax.set_xticks(range(len(categories)), list(categories))
        ax.grid(False, axis="x")
    return fig


def heatmap(
    values: Sequence[Sequence[float]],
    *,
    rows: Sequence[str],
    columns: Sequence[str],
    x_label: str,
    y_label: str,
    title: str | None = None,
    fmt: str = "{:.2f}",
    colorbar_label: str | None = None,
    size: tuple[float, float] = (5.0, 3.2),
) -> Figure:
    """A matrix as coloured cells (vector, not raster) with each value written in its cell.

    The colour map (viridis) reads the same on both backgrounds because every cell is an opaque
    patch; the value inside each cell is black or white, whichever contrasts with that cell.

    Args:
        values: Matrix of shape `(len(rows), len(columns))`.
        rows: Labels of the rows, top to bottom.
        columns: Labels of the columns, left to right.
        x_label: Label under the columns.
        y_label: Label beside the rows.
        title: Optional title.
        fmt: Format of the value written in each cell.
        colorbar_label: Label of the colour bar (none drawn if `None`).
        size: Figure size in inches.

    Returns:
        The matplotlib figure; pass it to `render`.

    Raises:
        ValueError: If `values` is not `(len(rows), len(columns))`.
    """
    matrix = [_floats(row) for row in values]
    if len(matrix) != len(rows) or any(len(row) != len(columns) for row in matrix):
        raise ValueError(f"values must have shape ({len(rows)}, {len(columns)}) (rows, columns)")
    fig, ax = canvas(size)
    finite = [v for row in matrix for v in row if math.isfinite(v)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    with plt.rc_context(_STYLE):
        cmap = plt.get_cmap("viridis")
        mesh = ax.pcolormesh(matrix, cmap=cmap, vmin=low, vmax=high, edgecolors="none")
        ax.invert_yaxis()
        ax.set_xticks([j + 0.5 for j in range(len(columns))], list(columns))
        ax.set_yticks([i + 0.5 for i in range(len(rows))], list(rows))
        ax.grid(False)
        span = (high - low) or 1.0
        for i, row in enumerate(matrix):
            for j, value in enumerate(row):
                shade = cmap((value - low) / span)
                luminance = 0.2126 * shade[0] + 0.7152 * shade[1] + 0.0722 * shade[2]
                ink = "#000000" if luminance > 0.45 else "#ffffff"
                ax.text(j + 0.5, i + 0.5, fmt.format(value), ha="center", va="center", color=ink)
        if colorbar_label is not None:
            bar = fig.colorbar(mesh, ax=ax)
            bar.set_label(colorbar_label)
            bar.outline.set_edgecolor(FOREGROUND)
    _finish(ax, x_label, y_label, title, "linear", "linear", None, legend=False)
    return fig


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """An HTML table of the numbers behind a figure (cells are escaped; floats as given)."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f'<table class="mlg-numbers"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


_ID = re.compile(r'\bid="([^"]+)"')
_FONTS = "'DejaVu Sans', Verdana, Arial, sans-serif"  # the layout was measured with DejaVu Sans


def _slug(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def svg(fig: Figure, name: str) -> str:
    """The figure as inline SVG text, deterministic for given data and `name`, palette-aware.

    Args:
        fig: A figure from this module (or from `canvas`). It is closed afterwards.
        name: Salt and id prefix; figures on one page need distinct names.

    Returns:
        An `<svg>` element without XML declaration or DOCTYPE.
    """
    prefix = "f" + _slug(name)
    buffer = io.StringIO()
    with plt.rc_context({**_STYLE, "svg.hashsalt": prefix}):
        fig.tight_layout()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    for sentinel, css in _CSS.items():
        text = text.replace(sentinel, css)
    text = text.replace("font-family: 'DejaVu Sans'", f"font-family: {_FONTS}")
    referenced = set(re.findall(r"#([A-Za-z0-9_.-]+)[)\"]", text))
    for identifier in sorted(set(_ID.findall(text)), key=len, reverse=True):
        if identifier not in referenced:  # group ids: noise, and duplicated between figures
            text = text.replace(f' id="{identifier}"', "")
            continue
        new = f"{prefix}-{identifier}"
        text = text.replace(f'id="{identifier}"', f'id="{new}"')
        text = text.replace(f"#{identifier})", f"#{new})").replace(f'"#{identifier}"', f'"#{new}"')
    # Markdown treats a blank line as the end of an HTML block: keep the element in one block.
    return "\n".join(line for line in text.splitlines() if line.strip())


_ABBREVIATIONS = Path(__file__).resolve().parents[1] / ".abbreviations.md"
_INLINE_SYNTAX = re.compile(r"[*_`\[\]\\~^=+!|{}#$:]")
_ENTITY = re.compile(r"(&(?:#[0-9]+|#x[0-9a-fA-F]+|[A-Za-z]+);)")


def _abbreviated_words() -> list[str]:
    """The terms the site's abbreviation list (`docs/.abbreviations.md`) marks up on every page."""
    if not _ABBREVIATIONS.is_file():
        return []
    return re.findall(r"(?m)^\*\[([^\]]+)\]:", _ABBREVIATIONS.read_text(encoding="utf-8"))


def _markdown_proof(markup: str) -> str:
    r"""Make the text of `markup` immune to Markdown's inline processing, without changing it.

    An executed block's output inside a Result tab is indented, so Markdown does not see it as a
    raw HTML block: the tags are kept, but the text between them goes through the inline patterns.
    Unprotected, `*` or `_` in a label or caption (or the SVG's own `*{...}` style rule) opened
    emphasis across the figure, and an abbreviation such as "MAML" became an `<abbr>` element
    inside `<text>`, which ends the SVG in an HTML parser. Every character that starts inline
    syntax, and the first letter of every abbreviated term, is written as a numeric character
    reference: the browser shows (and search indexes) the same text.
    """
    terms = _abbreviated_words()
    word = re.compile(r"\b(" + "|".join(map(re.escape, terms)) + r")\b") if terms else None

    def protect_text(text: str) -> str:
        text = _INLINE_SYNTAX.sub(lambda m: f"&#{ord(m.group(0))};", text)
        if word is not None:
            text = word.sub(lambda m: f"&#{ord(m.group(1)[0])};{m.group(1)[1:]}", text)
        return text

    def protect(match: re.Match[str]) -> str:
        pieces = _ENTITY.split(match.group(1))  # existing references stay as they are
        return ">" + "".join(p if _ENTITY.fullmatch(p) else protect_text(p) for p in pieces) + "<"

    return re.sub(r">([^<]+)<", protect, markup)


def render(
    fig: Figure, *, alt: str, caption: str, numbers: str | None = None, name: str | None = None
) -> str:
    """A complete `<figure>`: the SVG with its alt text, the caption, and the numbers (collapsed).

    Args:
        fig: The figure to embed (closed afterwards).
        alt: What the figure shows, for screen readers (one or two sentences, no "image of").
        caption: The visible caption: what to read off the figure.
        numbers: Optional HTML (e.g. from `table`) shown in a collapsed "Numbers" block.
        name: Distinct name per figure on a page (default: derived from `alt`).

    Returns:
        HTML to print from an executed block whose output is rendered as Markdown.

    Raises:
        ValueError: If `alt` or `caption` is empty.
    """
    if not alt.strip() or not caption.strip():
        raise ValueError("a figure needs a non-empty alt text and caption")
    body = svg(fig, name or alt)
    label = html.escape(alt, quote=True)
    body = body.replace("<svg ", f'<svg role="img" aria-label="{label}" class="mlg-svg" ', 1)
    body = re.sub(r"(<svg[^>]*>)", lambda m: m.group(1) + f"<title>{label}</title>", body, count=1)
    parts = [
        '<figure class="mlg-figure">',
        body,
        f"<figcaption>{html.escape(caption)}</figcaption>",
    ]
    if numbers:
        parts.append(
            '<details class="mlg-numbers"><summary>Numbers behind the figure</summary>'
            f"{numbers}</details>"
        )
    parts.append("</figure>")
    return _markdown_proof("\n".join(parts)) + "\n"
