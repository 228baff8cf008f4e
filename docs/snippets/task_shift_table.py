"""Render benchmarks/results/task_shift.json (written by `python -m benchmarks.task_shift`)."""

import json
from pathlib import Path


def _shift_file() -> Path:
    for folder in (Path.cwd().resolve(), *Path.cwd().resolve().parents):
        if (folder / "mkdocs.yml").exists():
            return folder / "benchmarks" / "results" / "task_shift.json"
    raise FileNotFoundError("run the docs build from the repository (mkdocs.yml not found)")


_path = _shift_file()
if not _path.exists():
    print("Not run yet: `python -m benchmarks.task_shift CHECKPOINT ...` writes the table.")
else:
    _result = json.loads(_path.read_text(encoding="utf-8"))
    print(
        f"{_result['n_way']}-way {_result['k_shot']}-shot tasks; `{_result['command']}`\n\n"
        "| Model | Tasks from | Flagged (95th pct.) | Mean z | Accuracy |\n|---|---|---|---|---|"
    )
    _what = {
        ("maml", "val"): "validation characters (familiar alphabets)",
        ("maml", "test"): "test characters (familiar alphabets)",
        ("lake", "val"): "validation characters (training alphabets)",
        ("lake", "test"): "test characters (20 unseen alphabets)",
    }
    for _row in _result["rows"]:
        _where = _what.get((_row["split"], _row["part"]), f"{_row['split']} {_row['part']}")
        print(
            f"| {_row['method']}, trained on `{_row['split']}` | {_where}, {_row['episodes']} tasks "
            f"| {_row['share_flagged']:.1%} | {_row['mean_z']:+.2f} "
            f"| {100 * _row['accuracy']:.2f} ± {100 * _row['ci95']:.2f} |"
        )
    _by = {(_r["split"], _r["part"]): _r for _r in _result["rows"]}
    for _split in ("maml", "lake"):
        _val, _test = _by.get((_split, "val")), _by.get((_split, "test"))
        if _val and _test:
            print(
                f"\n`{_split}`: test tasks flagged {_test['share_flagged']:.1%} against "
                f"{_val['share_flagged']:.1%} of validation tasks; accuracy "
                f"{100 * (_test['accuracy'] - _val['accuracy']):+.2f} points from validation to test."
            )
