"""The checker behind "no number typed into prose" (tests/prose_numbers.py), on pages made up here.

Each case is a small page with one kind of number; the checker must flag a typed result and must
accept what the rule accounts for (names, citations, the page's own code literals, signal
thresholds, allow-listed phrases). The rule applied to every real page is in test_page_rules.py.
"""

from __future__ import annotations

import prose_numbers as pn
import pytest

FENCE = '```python exec="on" source="tabbed-right" session="x" title="demo"\nEPISODES = 200\nprint(0.973)\n```\n'


def flagged(text: str, allowed: list[str] | None = None) -> list[str]:
    return [t.number for t in pn.typed_numbers("demo.md", text, allowed)]


def test_a_typed_result_is_flagged() -> None:
    page = "# Demo\n\n## Worked example\n\n" + FENCE + "\nThe model reaches 97.3% accuracy.\n"
    assert flagged(page) == ["97.3%"]


def test_a_typed_ratio_in_a_list_item_is_flagged() -> None:
    page = "## Workflow trade-offs\n\n- **Cost:** about 3× slower than the baseline.\n"
    assert flagged(page) == ["3×"]


def test_a_setup_constant_present_in_the_executed_code_is_accepted() -> None:
    page = "## Worked example\n\n" + FENCE + "\nEach cell averages 200 episodes.\n"
    assert flagged(page) == []


def test_the_setup_constant_is_flagged_once_the_code_changes() -> None:
    page = (
        "## Worked example\n\n"
        + FENCE.replace("200", "300")
        + "\nEach cell averages 200 episodes.\n"
    )
    assert flagged(page) == ["200"]


def test_printed_output_does_not_license_the_same_number_in_prose() -> None:
    # 0.973 is printed by the code, but a literal in a print call is still a literal: the rule
    # accepts it; what it cannot accept is a number the code never contains.
    page = "## Worked example\n\n" + FENCE + "\nIt prints 0.973, i.e. 97.30%.\n"
    assert flagged(page) == ["97.30%"]


@pytest.mark.parametrize(
    "sentence",
    [
        "A 5-way 1-shot task and the 20w5s setting, trained 60-way.",
        "As Eq. (3) and Table 2 show, see Section 4.1 and Appendix C.1.",
        "Finn et al. (2017) report 98.7% on Omniglot.",
        "The authors' code (arXiv:1703.03400) uses 40 hidden units.",
        "Measured with Python 3.11 and torch 2.13 on a Conv-4 and an H100 in float64.",
        "Means carry a 95% confidence interval.",
        "The 2nd step and the 3rd layer.",
        "Pillow 13.0 reads https://example.org/files/3.11/objects.inv here.",
        "The meta-objective of §2.2 and the losses of § 3.1.",
    ],
)
def test_names_and_citations_are_accepted(sentence: str) -> None:
    assert flagged(f"## How it works\n\n{sentence}\n") == []


def test_a_table_is_cited_by_the_paragraph_above_it() -> None:
    page = "## How it works\n\nRaghu et al. (2020), their Table 2:\n\n| a | b |\n|---|---|\n| 93.7 | 1.2 |\n"
    assert flagged(page) == []
    uncited = "## How it works\n\nOur numbers:\n\n| a | b |\n|---|---|\n| 93.7 | 1.2 |\n"
    assert flagged(uncited) == ["93.7", "1.2"]


def test_a_signal_threshold_after_worry_when_is_accepted() -> None:
    page = "## Deployment signals\n\n- **Gap** $a - b$. *Worry when* it exceeds 0.05.\n"
    assert flagged(page) == []
    page = "## Deployment signals\n\n- **Gap** $a - b$, usually 0.05.\n"
    assert flagged(page) == ["0.05"]


def test_references_math_code_and_links_are_skipped() -> None:
    page = (
        "## How it works\n\nWith $K = 10$ and `steps=5`, see [the other page](other.md#step-7).\n\n"
        '## References\n\n- A. Author (2019), "Title", 12 pages.\n'
    )
    assert flagged(page) == []


def test_an_allow_listed_phrase_is_accepted_and_a_stale_one_reported(tmp_path) -> None:
    page = "## Workflow trade-offs\n\n- Users bring 12 classes with 3 to 30 examples.\n"
    assert flagged(page, ["12 classes with 3 to 30 examples"]) == []
    listed = tmp_path / "allowed.txt"
    listed.write_text("glossary/nowhere.md | 12 classes | illustration\n", encoding="utf-8")
    assert pn.stale_allow_list_entries(pn.read_allow_list(listed)) == [
        "glossary/nowhere.md | 12 classes"
    ]


def test_a_malformed_allow_list_line_is_refused(tmp_path) -> None:
    listed = tmp_path / "allowed.txt"
    listed.write_text("glossary/x.md | no reason given\n", encoding="utf-8")
    with pytest.raises(ValueError, match="page \\| phrase \\| reason"):
        pn.read_allow_list(listed)


def test_an_ordered_list_marker_is_a_name_but_a_number_in_the_item_is_not() -> None:
    page = (
        "## Implementation details\n\n6. **Evaluation** adapts a copy.\n7. **Speed**: 3× faster.\n"
    )
    assert flagged(page) == ["3×"]
