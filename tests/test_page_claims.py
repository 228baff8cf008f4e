"""A page's claims fail the build when its output stops supporting them (issue 20's demonstration).

The N-way K-shot page says that accuracy rises with K, falls with N, and that the first shots
help most; its executed block checks each with `claims`. Here the block runs exactly as the page
includes it, once as committed (the claims hold) and once with one hyperparameter edited so that
the classes carry no signal: the same code must then raise `ClaimError`, which is what turns into
a failed strict build.
"""

from __future__ import annotations

import re
from pathlib import Path

import claims
import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
SNIPPETS = DOCS / "snippets"


def executed_source(page: Path, title: str) -> str:
    """The code of the exec fence titled `title` on `page`, with its snippet includes expanded."""
    text = page.read_text(encoding="utf-8")
    match = re.search(
        rf'```python exec="on"[^\n]*title="{re.escape(title)}"\n(.*?)\n```', text, re.S
    )
    assert match, f"no executed block titled {title!r} on {page.name}"
    return re.sub(
        r'--8<-- "([^"]+)"',
        lambda m: (SNIPPETS / m.group(1)).read_text(encoding="utf-8"),
        match.group(1),
    )


PAGE = DOCS / "glossary" / "n-way-k-shot.md"
TITLE = "N-way K-shot grid"
EDIT = ("centres = torch.randn(200, 1, 16", "centres = 0 * torch.randn(200, 1, 16")


@pytest.mark.slow
def test_the_page_claims_hold_as_committed(capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(executed_source(PAGE, TITLE), str(PAGE), "exec"), {})
    assert "<figure" in capsys.readouterr().out


@pytest.mark.slow
def test_a_hyperparameter_edit_that_falsifies_a_claim_fails_the_block() -> None:
    source = executed_source(PAGE, TITLE)
    assert EDIT[0] in source, "the edited line moved; update EDIT to the page's data line"
    with pytest.raises(claims.ClaimError, match="accuracy rises with K"):
        exec(compile(source.replace(*EDIT), str(PAGE), "exec"), {})
