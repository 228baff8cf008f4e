"""What the Omniglot results page concludes, and when it must refuse to (docs/snippets/results_omniglot.py).

Paired margins are only computed for result files scored on the same episodes, and equal an
independent computation from the per-episode counts; a target or paper figure inside the 95%
interval reads as indistinguishable; and the page's summary sentences fail the build (raise
`ClaimError`) when the result files stop supporting them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import claims
import pytest

REPO = Path(__file__).resolve().parents[1]


def snippet() -> dict:
    """The namespace of the results snippet, as the page's first block runs it."""
    namespace: dict = {}
    exec((REPO / "docs" / "snippets" / "results_omniglot.py").read_text(), namespace)
    return namespace


def result(method: str, setting: str, correct: list[int], **fields: object) -> dict:
    """A result file with per-episode correct counts out of 5 * 15 queries."""
    queries = 75
    accuracy = [c / queries for c in correct]
    mean = math.fsum(accuracy) / len(accuracy)
    std = math.sqrt(math.fsum((a - mean) ** 2 for a in accuracy) / len(accuracy))
    return {
        "method": method, "setting": setting, "split": "maml", "split_part": "test",
        "n_way": 5, "k_shot": 1, "n_query": 15, "eval_seed": 0, "episodes": len(correct),
        "accuracy": mean, "ci95": 1.96 * std / math.sqrt(len(correct)),
        "queries_per_episode": queries, "per_episode_correct": correct,
        "train_steps": 100, "evaluations": [], **fields,
    }  # fmt: skip


def test_paired_margin_equals_the_mean_and_ci_of_per_episode_differences() -> None:
    """Over the common prefix of the two headline episode sets (MAML's 600 of the baseline's
    1000 here: 6 of 10), written out with the formula of claims.py."""
    ns = snippet()
    maml = result("maml", "5w1s", [70, 72, 75, 74, 73, 71, 60, 60, 60, 60], episodes=6)
    base = result("baseline", "5w1s", [71, 70, 74, 74, 70, 72, 75, 75, 75, 75])
    d, n = ns["pair"](maml, base)
    diffs = [(a - b) / 75 for a, b in zip(maml["per_episode_correct"][:6],
                                         base["per_episode_correct"][:6], strict=True)]  # fmt: skip
    mean = sum(diffs) / 6
    half = 1.96 * math.sqrt(sum((x - mean) ** 2 for x in diffs) / 6) / math.sqrt(6)
    assert n == 6
    assert d.mean == pytest.approx(100 * mean, rel=1e-12)
    assert d.ci95 == pytest.approx(100 * half, rel=1e-12)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("eval_seed", 1),
        ("split_part", "val"),
        ("n_query", 5),
        ("setting", "5w5s"),
        ("split", "lake"),
    ],
)
def test_files_scored_on_other_episodes_are_not_paired(field: str, value: object) -> None:
    ns = snippet()
    maml = result("maml", "5w1s", [70] * 4)
    base = {**result("baseline", "5w1s", [71] * 4), field: value}
    reason = ns["pair"](maml, base)
    assert isinstance(reason, str) and reason.startswith(f"not paired: {field} differs")


def test_files_without_per_episode_counts_say_so() -> None:
    ns = snippet()
    maml = result("maml", "5w1s", [70] * 4)
    del maml["per_episode_correct"]
    assert ns["pair"](maml, result("baseline", "5w1s", [71] * 4)) == (
        "per-episode accuracies not in the result files yet"
    )


@pytest.mark.parametrize(
    ("accuracy", "ci95", "reading"),
    [(0.99, 0.002, "met"), (0.981, 0.002, "indistinguishable at this sample size"),
     (0.975, 0.002, "missed")],
)  # fmt: skip
def test_a_target_reads_met_missed_or_indistinguishable_by_the_interval(
    accuracy: float, ci95: float, reading: str
) -> None:
    ns = snippet()
    assert ns["against"](claims.Interval(100 * accuracy, 100 * ci95), 98.0) == reading


def write(root: Path, *results: dict) -> None:
    folder = root / "benchmarks" / "results" / "omniglot"
    folder.mkdir(parents=True, exist_ok=True)
    for r in results:
        name = f"{r['method']}_{r['setting']}_{r['split']}.json"
        (folder / name).write_text(json.dumps(r), encoding="utf-8")


def test_the_summary_holds_while_the_baseline_ties_maml_and_fails_once_maml_beats_it(
    tmp_path: Path,
) -> None:
    """'The transfer baseline ties or beats MAML on every maml-split cell': true on tied
    per-episode counts, and a ClaimError (a failed strict build) once MAML is clearly ahead."""
    ns = snippet()
    base = result("baseline", "5w1s", [70, 71, 72, 73] * 25)
    write(tmp_path, result("maml", "5w1s", [70, 72, 71, 73] * 25), base)
    text = ns["summary"](ns["load_results"](tmp_path))
    assert "indistinguishable from it in 5w1s" in text and "paired over 100 episodes" in text
    write(tmp_path, result("maml", "5w1s", [74, 75, 75, 74] * 25))
    with pytest.raises(claims.ClaimError, match="ties or beats MAML"):
        ns["summary"](ns["load_results"](tmp_path))


def test_the_protonet_batch_norm_effect_is_rendered_only_when_measured() -> None:
    ns = snippet()
    r = result("protonet", "5w1s", [70] * 4)
    assert ns["batch_norm_effect"](r) == "not measured yet"
    r["running_bn"] = {"accuracy": 0.97, "ci95": 0.002,
                       "difference": {"accuracy": -0.012, "ci95": 0.003, "episodes": 1000}}  # fmt: skip
    assert ns["batch_norm_effect"](r) == (
        "97.00 ± 0.20 with running averages, -1.20 ± 0.30 points against episode statistics "
        "(paired, 1000 episodes)"
    )
