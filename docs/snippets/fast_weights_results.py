"""Render this method's Omniglot results from benchmarks/results/omniglot/*.json (Markdown)."""

import json
from pathlib import Path

folder = Path("benchmarks/results/omniglot")
runs = []
for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("method") == "fast_weights":
        runs.append(data)
if runs:
    print("| Setting | Split | Test accuracy (%) | Training time |")
    print("|---|---|---|---|")
    for r in runs:
        minutes = r.get("train_seconds")
        time_cell = f"{minutes / 60:.0f} min" if minutes is not None else "?"
        print(
            f"| {r['setting']} | {r['split']} | {100 * r['accuracy']:.2f} ± {100 * r['ci95']:.2f} | {time_cell} |"
        )
else:
    print("No fast-weight result file yet: the Omniglot reproduction has not trained this method.")
