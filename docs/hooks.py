"""MkDocs hooks of this site (listed under `hooks:` in mkdocs.yml).

`on_startup` puts `docs/snippets` on `sys.path`, so executed blocks can `import figures` and
`import claims` (the docs' figure and claim helpers) however MkDocs was started (`mkdocs serve`
from the console script does not put the working directory on the path).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

SNIPPETS = Path(__file__).resolve().parent / "snippets"
ROOT = SNIPPETS.parents[1]


def on_startup(**_: Any) -> None:
    """Make the docs helpers and the repository's packages importable from executed blocks."""
    for folder in (str(SNIPPETS), str(ROOT)):
        if folder not in sys.path:
            sys.path.insert(0, folder)
