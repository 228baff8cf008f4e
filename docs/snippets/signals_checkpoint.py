# The health reports of committed checkpoints (5-way 1-shot, maml split) with the committed
# transfer baseline, on all the test episodes of each published result file, as written by the
# command on each file's first line (computing them here would add many minutes to every build).
import json
from pathlib import Path

import claims

RESULTS = Path("benchmarks/results")


def show_report(cell_name: str) -> dict[str, str]:
    """Print `health_report_<cell_name>.txt`; check it scores the published cell's episodes.

    Returns:
        The value column of each signal's line, by signal name.
    """
    report = (RESULTS / f"health_report_{cell_name}.txt").read_text(encoding="utf-8")
    print(report.rstrip())
    cell = json.loads((RESULTS / "omniglot" / f"{cell_name}.json").read_text(encoding="utf-8"))
    lines = report.splitlines()
    values = {line[:24].strip(): line[24:88].strip() for line in lines if line[:24].strip()}
    claims.check(
        f"· {cell['episodes']} episodes" in lines[2]
        and f"(accuracy {cell['accuracy']:.4f} vs" in values["adaptation gain"],
        f"the {cell_name} report scores the published cell's episodes",
    )
    return values


protonet_report = show_report("protonet_5w1s_maml")
