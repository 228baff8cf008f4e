"""Render this method's Omniglot results from benchmarks/results/omniglot/*.json (Markdown)."""

import json
from pathlib import Path

TARGETS = {("5w1s", "maml"): 97.5, ("5w5s", "maml"): 99.0}
"""The project's targets for this method (issue 9), within one hour of training on a 2-core CPU."""

folder = Path("benchmarks/results/omniglot")
runs = []
for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("method") == "fast_weights":
        runs.append(data)
if runs:
    print("| Setting | Split | Test accuracy (%) | Target | Updates | Training time | Threads |")
    print("|---|---|---|---|---|---|---|")
    for r in runs:
        seconds = r.get("train_seconds")
        time_cell = f"{seconds / 60:.0f} min" if seconds is not None else "?"
        target = TARGETS.get((r["setting"], r["split"]))
        machine = r.get("train_machine") or {}
        print(
            f"| {r['setting']} | {r['split']} | {100 * r['accuracy']:.2f} ± {100 * r['ci95']:.2f} "
            f"| {'–' if target is None else f'≥ {target}'} | {r.get('train_steps', '?')} "
            f"| {time_cell} | {machine.get('torch_threads', '?')} |"
        )
else:
    print("No fast-weight result file yet: the Omniglot reproduction has not trained this method.")
