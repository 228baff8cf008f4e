"""The docs' figure helper (docs/snippets/figures.py): deterministic, palette-aware, accessible SVG."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import figures
import markdown
import pytest

SNIPPETS = Path(__file__).resolve().parents[1] / "docs" / "snippets"
SCRIPT = """
import figures
s = [figures.Series("a", [1, 2, 4], [0.5, 0.7, 0.9], ci=[0.05, 0.04, 0.03]),
     figures.Series("b", [1, 2, 4], [0.4, 0.5, 0.8])]
print(figures.render(figures.line(s, x_label="x", y_label="y", x_scale="log", reference=0.2),
      alt="two rising lines", caption="demo", numbers=figures.table(["x"], [[1]])), end="")
"""


def render_in_fresh_process(hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(SNIPPETS)}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
    ).stdout


def demo(alt: str = "two rising lines") -> str:
    series = [figures.Series("a", [1, 2, 4], [0.5, 0.7, 0.9], ci=[0.05, 0.04, 0.03])]
    return figures.render(
        figures.line(series, x_label="shots", y_label="accuracy"), alt=alt, caption="c"
    )


@pytest.mark.slow
def test_render_is_byte_identical_across_processes_and_hash_seeds() -> None:
    first, second = render_in_fresh_process("1"), render_in_fresh_process("2")
    assert first == second
    assert "<svg" in first and "<dc:date>" not in first and "Matplotlib v" not in first


def test_text_stays_text_and_colours_come_from_the_palette() -> None:
    out = demo()
    assert "<text" in out and "shots" in out and "accuracy" in out  # searchable text, no glyphs
    fills = set(re.findall(r"(?:fill|stroke): (#[0-9a-fA-F]{6})", out))
    assert fills == set(), f"hard-coded colours would ignore the palette: {fills}"
    assert "var(--md-default-fg-color)" in out and "var(--mlg-fig-0" in out


def test_figure_has_alt_text_title_caption_and_no_blank_lines() -> None:
    out = demo("accuracy rises with shots")
    assert 'role="img"' in out and 'aria-label="accuracy rises with shots"' in out
    assert "<title>accuracy rises with shots</title>" in out and "<figcaption>c</figcaption>" in out
    assert "\n\n" not in out.strip()  # a blank line would end the HTML block in Markdown


def test_two_figures_on_a_page_share_no_element_id() -> None:
    ids_a = set(re.findall(r'id="([^"]+)"', demo("first")))
    ids_b = set(re.findall(r'id="([^"]+)"', demo("second")))
    assert ids_a and ids_b and not ids_a & ids_b
    for ref in re.findall(r'(?:href="#|url\(#)([^")]+)', demo("first")):
        assert ref in ids_a  # every reference points at an element of the same figure


def test_render_refuses_an_empty_alt_text_or_caption() -> None:
    fig = figures.line([figures.Series("a", [1], [1])], x_label="x", y_label="y")
    with pytest.raises(ValueError, match="alt text and caption"):
        figures.render(fig, alt=" ", caption="c")


def test_series_and_heatmap_refuse_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="3 x values but 2 y"):
        figures.Series("a", [1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match=r"shape \(2, 3\)"):
        figures.heatmap(
            [[1, 2, 3]], rows=["a", "b"], columns=["x", "y", "z"], x_label="", y_label=""
        )


def test_heatmap_writes_each_value_in_its_cell() -> None:
    fig = figures.heatmap(
        [[0.1, 0.9], [0.5, 0.25]], rows=["r0", "r1"], columns=["c0", "c1"], x_label="c", y_label="r"
    )
    out = figures.render(fig, alt="a 2 by 2 grid", caption="c")
    for value in ("0.10", "0.90", "0.50", "0.25"):
        assert f">{value}<" in out


def test_log_axis_ticks_are_the_data_values() -> None:
    series = [figures.Series("a", [1, 5, 20], [0.5, 0.7, 0.9])]
    out = figures.render(
        figures.line(series, x_label="K", y_label="acc", x_scale="log"), alt="a", caption="c"
    )
    assert all(f">{v}<" in out for v in ("1", "5", "20")) and "10<tspan" not in out


def test_intervals_label_each_category_on_the_axis() -> None:
    series = [figures.Series("ours", [0, 1], [0.5, 0.7], ci=[0.1, 0.1])]
    out = figures.render(
        figures.intervals(["first cell", "second cell"], series, y_label="acc"),
        alt="a",
        caption="c",
    )
    assert ">first cell<" in out and ">second cell<" in out and ">0.5<" not in out


def test_legend_above_sits_over_the_axes() -> None:
    series = [figures.Series(f"s{i}", [0, 1], [0.5, 0.7]) for i in range(4)]
    fig = figures.line(series, x_label="x", y_label="y", legend_loc="above")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    assert ax.get_legend().get_window_extent(renderer).y0 >= ax.get_window_extent(renderer).y1


def test_drawing_on_a_canvas_inside_style_follows_the_palette() -> None:
    fig, ax = figures.canvas()
    with figures.style():
        ax.errorbar([0, 1], [1, 2], yerr=[0.1, 0.1], color=figures.color(0), label="a")
        ax.legend()
    out = figures.render(fig, alt="a", caption="c")
    assert "#ffffff" not in out.lower() and "#000000" not in out  # no fixed frame or text colour
    assert "var(--md-default-fg-color)" in out and "var(--mlg-fig-0" in out


def test_figure_survives_markdown_inside_a_result_tab() -> None:
    """Text with abbreviations and inline syntax comes through the site's Markdown intact.

    markdown-exec indents a block's output under a Result tab, so Markdown processes the text
    between the figure's tags; an `<abbr>` inside `<text>` would end the SVG in the browser.
    """
    labels = ["MAML and ProtoNets", "a_b *c* [d] CI"]
    series = [figures.Series(label, [0, 1], [0.5, 0.7]) for label in labels]
    out = figures.render(
        figures.line(series, x_label="x_1", y_label="BN"),
        alt="MAML's *alt*",
        caption="read *_maml.json & MAML",
    )
    page = '=== "Result"\n\n' + textwrap.indent(out, "    ") + "\n*[MAML]: M\n*[CI]: C\n*[BN]: B\n"
    rendered = markdown.markdown(
        page,
        extensions=["abbr", "attr_list", "md_in_html", "pymdownx.tabbed", "pymdownx.arithmatex"],
    )
    svg = rendered[rendered.index("<svg") : rendered.index("</svg>")]
    assert "<abbr" not in svg and "<em>" not in svg and "<span" not in svg
    caption = rendered[rendered.index("<figcaption>") : rendered.index("</figcaption>")]
    assert "<em>" not in caption and html.unescape(caption).endswith("read *_maml.json & MAML")
    assert all(label in html.unescape(svg) for label in [*labels, "x_1", "BN"])


def test_table_escapes_its_cells() -> None:
    assert "&lt;b&gt;" in figures.table(["<b>"], [["x"]])


@pytest.mark.parametrize("name", ["episode", "maml_loops", "families"])
def test_each_diagram_renders_with_alt_text_and_searchable_labels(name: str) -> None:
    import diagrams

    out = getattr(diagrams, name)()
    alt = re.search(r'aria-label="([^"]+)"', out)
    assert alt and len(alt.group(1)) > 40  # says what the diagram shows, not just its name
    assert out.count("<text") >= 5 and "<figcaption>" in out
    assert out == getattr(diagrams, name)()  # deterministic within a process too
    assert not re.findall(r"(?:fill|stroke): #[0-9a-f]{6}", out), "colours must follow the palette"
