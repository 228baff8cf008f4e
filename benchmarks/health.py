"""The health report: every deployment signal of a trained model on one screen, with a verdict each.

    python -m benchmarks.health CHECKPOINT [--baseline CHECKPOINT] [--episodes N] [--out FILE]

An application of the signal library `reference_impl.signals`: this file decides which signals
apply to a model, feeds them the same fixed test episodes (`reference_impl.evaluation`, the
episodes of the published cell), turns each result into OK / WARN / FAIL against
`signals.Thresholds`, and lays the verdicts out as a table. Signals whose inputs a model lacks
are "n/a": the baseline margin needs a baseline checkpoint, the task shift and support suspects
an embedding, and the parameter-space signals (inner loop, adaptation distance, per-layer
change, feature similarity) a method that adapts parameters (`adapts_parameters`: its algorithm
file defines `adapt` and `task_loss`, as MAML's does). Everything method-specific comes from the
method table, `reference_impl.methods`.

By default a checkpoint is scored on all the episodes of its published result file
(`benchmarks/results/omniglot/<name>.json`, the same count, seed and queries), so the report's
accuracy is the published one; without a result file, on the method's paper count (600 for
MAML, 1000 otherwise). A line on stderr every few seconds says which signal is running.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import torch
from torch import Tensor, nn
from torch.func import functional_call

from benchmarks import common
from benchmarks.common import HarnessError
from reference_impl import files, methods, signals
from reference_impl.signals import Embed, EpisodeLike, Params, Predict, Thresholds

OK, WARN, FAIL, NA = "OK", "WARN", "FAIL", "n/a"


# --8<-- [start:verdicts]
@dataclass(frozen=True)
class Verdict:
    """One line of the health report."""

    signal: str
    """Signal name."""
    status: str
    """`"OK"`, `"WARN"`, `"FAIL"` or `"n/a"` (inputs not given)."""
    value: str
    """The numbers, formatted."""
    note: str
    """What the status means, in a few words."""


def judge_gain(g: signals.AdaptationGain, th: Thresholds) -> Verdict:
    """Verdict on `signals.adaptation_gain`."""
    value = (
        f"{g.mean:+.3f} ± {g.ci95:.3f} (accuracy {g.after_accuracy:.4f} vs "
        f"{g.before_accuracy:.3f}), {g.share_hurt:.0%} hurt"
    )
    if g.mean - g.ci95 <= 0:
        return Verdict("adaptation gain", FAIL, value, "support set not used (or harmful)")
    if g.share_hurt > th.max_share_hurt:
        return Verdict("adaptation gain", WARN, value, "adaptation hurts many tasks")
    return Verdict("adaptation gain", OK, value, "uses its support set")


def judge_margin(m: signals.PairedDifference, th: Thresholds) -> Verdict:
    """Verdict on `signals.baseline_margin`."""
    value = f"{m.mean:+.3f} [{m.low:+.3f}, {m.high:+.3f}] ({m.a_mean:.3f} vs {m.b_mean:.3f})"
    if m.low > th.margin_min:
        return Verdict("baseline margin", OK, value, "beats the transfer baseline")
    if m.high < 0:
        return Verdict("baseline margin", FAIL, value, "the transfer baseline is better")
    return Verdict("baseline margin", WARN, value, "no measurable gain over the baseline")


def judge_change(name: str, c: signals.PredictionChange, limit: float, cause: str) -> Verdict:
    """Verdict on `signals.order_sensitivity` or `signals.rebatching_consistency`."""
    a = c.accuracy
    value = f"{c.share_changed:.2%} of predictions change; accuracy {a.mean:+.3f} ± {a.ci95:.3f}"
    if c.share_changed > limit and a.high < 0:
        return Verdict(name, FAIL, value, f"{cause}, and accuracy drops")
    if c.share_changed > limit:
        return Verdict(name, WARN, value, cause)
    return Verdict(name, OK, value, "stable")


def judge_gap(g: signals.OverfittingGap, th: Thresholds) -> Verdict:
    """Verdict on `signals.meta_overfitting_gap`."""
    value = (
        f"{g.gap:+.3f} ± {g.ci95:.3f} (train {g.train_accuracy:.3f}, test {g.test_accuracy:.3f})"
    )
    if g.gap > th.gap_fail:
        return Verdict("meta-overfitting gap", FAIL, value, "memorised classes or shifted tasks")
    if g.gap > th.gap_warn:
        return Verdict("meta-overfitting gap", WARN, value, "watch the trend over training")
    return Verdict("meta-overfitting gap", OK, value, "generalises to new classes")


def judge_curve(c: signals.ShotCurve, th: Thresholds) -> Verdict:
    """Verdict on `signals.shot_curve`."""
    value = "K=" + ",".join(map(str, c.shots)) + ": " + " ".join(f"{a:.3f}" for a in c.accuracy)
    if c.accuracy[0] >= th.saturated:
        return Verdict("shot curve", OK, value, "saturated at the smallest K")
    if c.gain - c.gain_ci95 <= 0:
        return Verdict("shot curve", FAIL, value, "flat: extra shots are not used")
    if not c.monotone:
        return Verdict("shot curve", WARN, value, "not monotone in K")
    return Verdict("shot curve", OK, value, "rises with K")


def judge_shift(s: signals.TaskShift, th: Thresholds) -> Verdict:
    """Verdict on `signals.task_shift`."""
    value = f"mean z {s.mean_z:+.2f}, {s.share_flagged:.0%} of tasks flagged (5% expected)"
    if s.share_flagged > th.flagged_fail:
        return Verdict("task shift", FAIL, value, "tasks from an unseen domain")
    if s.share_flagged > th.flagged_warn:
        return Verdict("task shift", WARN, value, "some tasks look out of domain")
    return Verdict("task shift", OK, value, "tasks look like the training domain")


def judge_calibration(c: signals.Calibration, th: Thresholds) -> Verdict:
    """Verdict on `signals.calibration`."""
    value = f"ECE {c.ece:.3f} ({c.n_bins} bins; conf {c.mean_confidence:.3f}, acc {c.accuracy:.3f})"
    side = "over-confident" if c.mean_confidence > c.accuracy else "under-confident"
    if c.ece > th.ece_fail:
        return Verdict("calibration", FAIL, value, f"{side}: do not gate on confidence")
    if c.ece > th.ece_warn:
        return Verdict("calibration", WARN, value, f"somewhat {side}")
    return Verdict("calibration", OK, value, "confidence can be trusted")


def judge_support(
    s: signals.SupportStatistics, reference: signals.SupportStatistics | None, th: Thresholds
) -> Verdict:
    """Verdict on `signals.support_statistics`, against in-domain episodes where given."""
    suspect = "-" if math.isnan(s.share_suspect) else f"{s.share_suspect:.1%}"
    if reference is not None and not math.isnan(reference.share_suspect):
        suspect += f" (in-domain {reference.share_suspect:.1%})"
    value = (
        f"suspects {suspect}, repeats in {s.share_duplicated:.0%} of episodes, "
        f"imbalanced {s.share_imbalanced:.0%}"
    )
    base = reference.share_suspect if reference is not None else 0.0
    if s.share_suspect - base > th.suspect_excess_warn:
        return Verdict("support statistics", WARN, value, "check the suspects' labels")
    if s.share_duplicated > th.duplicate_warn:
        return Verdict("support statistics", WARN, value, "repeated inputs: deduplicate")
    return Verdict("support statistics", OK, value, "clean support sets")


def judge_inner_loop(h: signals.InnerLoopHealth, th: Thresholds) -> Verdict:
    """Verdict on `signals.inner_loop_health`."""
    losses = " > ".join(f"{v:.3f}" for v in h.mean_losses)
    value = f"support loss {losses}; max |grad| {h.max_grad_norm:.3g}"
    if h.share_nonfinite > 0:
        return Verdict("inner loop", FAIL, value, f"{h.share_nonfinite:.0%} of tasks non-finite")
    if h.share_loss_increased > th.max_share_hurt or h.mean_losses[-1] >= h.mean_losses[0]:
        return Verdict("inner loop", FAIL, value, "support loss does not fall")
    if h.share_loss_increased > 0:
        return Verdict("inner loop", WARN, value, f"loss rises on {h.share_loss_increased:.0%}")
    return Verdict("inner loop", OK, value, "support loss falls every step")


def judge_distance(d: signals.AdaptationDistance, reference_mean: float, th: Thresholds) -> Verdict:
    """Verdict on `signals.adaptation_distance` against in-domain tasks."""
    value = (
        f"mean {d.mean:.3g} (in-domain {reference_mean:.3g}); "
        f"{d.share_above_reference:.0%} past the in-domain p95"
    )
    if d.share_above_reference > th.distance_flagged_warn:
        return Verdict("adaptation distance", WARN, value, "tasks far from the learned start")
    return Verdict("adaptation distance", OK, value, "tasks near the learned start")


def judge_layers(c: signals.LayerChange, th: Thresholds) -> Verdict:
    """Verdict on `signals.layer_change` against in-domain tasks."""
    top = max(c.ratio, key=lambda n: c.ratio[n])
    value = f"largest ratio {c.max_ratio:.2f} ({top}: {c.relative[top]:.3f} of its norm)"
    if c.max_ratio > th.layer_ratio_warn:
        return Verdict("per-layer change", WARN, value, f"{top} moves more than in-domain")
    return Verdict("per-layer change", OK, value, "each layer moves as in-domain")


def judge_similarity(cka: float, reference: float, th: Thresholds) -> Verdict:
    """Verdict on the mean `signals.embedding_drift` CKA across adaptation, against in-domain."""
    value = f"CKA before/after adaptation {cka:.3f} (in-domain {reference:.3f})"
    if cka < reference - th.cka_drop_warn:
        return Verdict("feature similarity", WARN, value, "adaptation rewrites the features")
    return Verdict("feature similarity", OK, value, "features change as in-domain")


def judge_drift(d: signals.EmbeddingDrift, th: Thresholds) -> Verdict:
    """Verdict on `signals.embedding_drift` between two model versions."""
    value = f"CKA {d.cka:.3f}, relative change {d.relative_change:.3f}"
    if d.cka < th.drift_cka_warn:
        return Verdict("embedding drift", WARN, value, "recompute cached features")
    return Verdict("embedding drift", OK, value, "features stable across versions")


# --8<-- [end:verdicts]


# --8<-- [start:inputs]
@dataclass(frozen=True)
class Adaptation:
    """What the parameter-space signals need from a method that adapts its parameters."""

    params: Params
    """Meta-parameters."""
    adapt: Callable[[Tensor, Tensor], Params]
    """`adapt(support_x, support_y) -> adapted_params`."""
    features: Callable[[Params, Tensor], Tensor]
    """`features(params, x) -> (B, D)`: the embedding under the given parameters."""
    traces: Callable[[Sequence[EpisodeLike]], list[signals.InnerLoopTrace]]
    """Inner-loop traces of episodes' support sets."""


@dataclass(frozen=True)
class ReportInputs:
    """Everything a health report may use; missing inputs give "n/a" lines."""

    predict: Predict
    """The method's predictor."""
    test_episodes: Sequence[EpisodeLike]
    """Held-out episodes, the same for every signal."""
    before: Predict | None = None
    """Pre-adaptation predictor; default: shuffled support labels."""
    baseline: Predict | None = None
    """Transfer-baseline predictor, for the margin."""
    train_episodes: Sequence[EpisodeLike] | None = None
    """Episodes of meta-training classes, for the overfitting gap."""
    reference_episodes: Sequence[EpisodeLike] | None = None
    """In-domain held-out episodes (validation classes), for the parameter-space signals."""
    shot_data: Tensor | None = None
    """Held-out classes `(C, E, *x_shape)`, `E >= 15`, for the shot curve."""
    embed: Embed | None = None
    """Feature extractor, for task shift and support statistics."""
    shift_reference: signals.TaskShiftReference | None = None
    """From `signals.fit_task_shift`."""
    adaptation: Adaptation | None = None
    """For the parameter-space signals."""
    previous_embed: Embed | None = None
    """The previous model version's embedding, for the embedding drift."""
    shot_episodes: int = 50
    """Episodes per K of the shot curve."""
    inner_loop_tasks: int = 20
    """Test episodes whose inner loop is traced."""
    seed: int = 0
    """Seed of the label shuffles, support permutations and shot-curve episodes."""


class Progress:
    """One line on `stream` every `every` seconds: the signal running and predictions so far."""

    def __init__(self, stream: TextIO | None = None, every: float = 5.0) -> None:
        self.stream, self.every = stream if stream is not None else sys.stderr, every
        self.start = self.last = time.perf_counter()
        self.stage, self.index, self.stages, self.calls = "", 0, 0, 0

    def begin(self, stage: str, index: int, total: int) -> None:
        """Start stage `index` of `total`."""
        self.stage, self.index, self.stages = stage, index, total
        self.tick(force=index == 1 and math.isfinite(self.every))

    def tick(self, force: bool = False) -> None:
        """Count one prediction; print a line if one is due."""
        now = time.perf_counter()
        if force or now - self.last >= self.every:
            self.last = now
            elapsed = common.format_seconds(now - self.start)
            self.stream.write(
                f"health: signal {self.index}/{self.stages} {self.stage} | "
                f"{self.calls} predictions | {elapsed}\n"
            )
            self.stream.flush()

    def wrap(self, predict: Predict) -> Predict:
        """`predict`, counted."""

        def counted(support_x: Tensor, support_y: Tensor, query_x: Tensor) -> Tensor:
            self.calls += 1
            self.tick()
            return predict(support_x, support_y, query_x)

        return counted


def finite_logits(predict: Predict, who: str) -> Predict:
    """`predict`, refusing non-finite logits: a NaN model would read as a chance-level one.

    Raises:
        ValueError: Naming `who`, when a call returns NaN or inf.
    """

    def checked(support_x: Tensor, support_y: Tensor, query_x: Tensor) -> Tensor:
        logits = predict(support_x, support_y, query_x)
        if not bool(torch.isfinite(logits).all()):
            raise ValueError(
                f"{who} returned non-finite logits (NaN or inf): no signal can be computed; "
                "check it for a diverged or corrupted weight"
            )
        return logits

    return checked


def _memoize(predict: Predict) -> Predict:
    """Reuse logits for inputs seen before (same tensor objects), so signals share predictions."""
    cache: dict[tuple[int, int, int], tuple[tuple[Tensor, Tensor, Tensor], Tensor]] = {}

    def cached(support_x: Tensor, support_y: Tensor, query_x: Tensor) -> Tensor:
        key = (id(support_x), id(support_y), id(query_x))
        if key not in cache:  # the stored inputs keep their ids from being reused
            cache[key] = ((support_x, support_y, query_x), predict(support_x, support_y, query_x))
        return cache[key][1]

    return cached


# --8<-- [end:inputs]


# --8<-- [start:collect]
def _parameter_signals(a: Adaptation, inputs: ReportInputs, th: Thresholds) -> list[Verdict]:
    """Adaptation distance, per-layer change and feature similarity, test against in-domain."""
    runs = {}
    for name, episodes in (("test", inputs.test_episodes), ("ref", inputs.reference_episodes)):
        assert episodes is not None
        adapted = [a.adapt(ep[0], ep[1]) for ep in episodes]
        cka = [
            signals.embedding_drift(
                lambda x: a.features(a.params, x),
                lambda x, p=p: a.features(p, x),  # type: ignore[misc]
                torch.cat([ep[0], ep[2]]),
            ).cka
            for ep, p in zip(episodes, adapted, strict=True)
        ]
        runs[name] = adapted, sum(cka) / len(cka)
    (test, test_cka), (ref, ref_cka) = runs["test"], runs["ref"]
    ref_distance = signals.adaptation_distance(a.params, ref)
    return [
        judge_distance(
            signals.adaptation_distance(a.params, test, ref_distance.per_episode),
            ref_distance.mean,
            th,
        ),
        judge_layers(signals.layer_change(a.params, test, signals.layer_change(a.params, ref)), th),
        judge_similarity(test_cka, ref_cka, th),
    ]


def collect_verdicts(
    inputs: ReportInputs, thresholds: Thresholds | None = None, progress: Progress | None = None
) -> list[Verdict]:
    """Compute every signal whose inputs are given and judge it; the others are "n/a".

    Returns:
        Fourteen verdicts in a fixed order.
    """
    th = thresholds if thresholds is not None else Thresholds()
    progress = progress if progress is not None else Progress(every=math.inf)
    test = [tuple(ep) for ep in inputs.test_episodes]  # the same tensor objects on every pass
    predict = _memoize(progress.wrap(inputs.predict))
    n_way = int(test[0][1].max()) + 1
    seed = inputs.seed

    def missing(signal: str, hint: str) -> Callable[[], list[Verdict]]:
        return lambda: [Verdict(signal, NA, "-", hint)]

    def wrapped(p: Predict | None) -> Predict | None:
        return progress.wrap(p) if p is not None else None

    steps: list[tuple[str, Callable[[], list[Verdict]]]] = [
        ("adaptation gain", lambda: [judge_gain(signals.adaptation_gain(
            predict, test, before=wrapped(inputs.before), seed=seed), th)]),
        ("baseline margin", (lambda: [judge_margin(signals.baseline_margin(
            predict, wrapped(inputs.baseline), test), th)])  # type: ignore[arg-type]
         if inputs.baseline is not None else missing("baseline margin", "needs a baseline")),
        ("order sensitivity", lambda: [judge_change(
            "order sensitivity", signals.order_sensitivity(predict, test, seed=seed),
            th.order_flip_warn, "answers depend on support order")]),
        ("re-batching consistency", lambda: [judge_change(
            "re-batching", signals.rebatching_consistency(predict, test),
            th.rebatch_flip_warn, "answers depend on the batch")]),
        ("meta-overfitting gap", (lambda: [judge_gap(signals.meta_overfitting_gap(
            predict, inputs.train_episodes, test), th)])  # type: ignore[arg-type]
         if inputs.train_episodes is not None
         else missing("meta-overfitting gap", "needs episodes of training classes")),
        ("shot curve", (lambda: [judge_curve(signals.shot_curve(
            predict, inputs.shot_data, n_way=n_way, num_episodes=inputs.shot_episodes,  # type: ignore[arg-type]
            seed=seed), th)])
         if inputs.shot_data is not None else missing("shot curve", "needs held-out class data")),
        ("task shift", (lambda: [judge_shift(signals.task_shift(
            inputs.shift_reference, inputs.embed, test), th)])  # type: ignore[arg-type]
         if inputs.embed is not None and inputs.shift_reference is not None
         else missing("task shift", "needs an embedding and a reference")),
        ("calibration", lambda: [judge_calibration(signals.calibration(predict, test), th)]),
        ("support statistics", lambda: [judge_support(
            signals.support_statistics(test, inputs.embed),
            signals.support_statistics(inputs.reference_episodes, inputs.embed)
            if inputs.reference_episodes is not None else None, th)]),
        ("inner loop", (lambda: [judge_inner_loop(signals.inner_loop_health(
            inputs.adaptation.traces(test[: inputs.inner_loop_tasks])), th)])  # type: ignore[union-attr]
         if inputs.adaptation is not None else missing("inner loop", "no inner loop")),
        ("parameter change", (lambda: _parameter_signals(inputs.adaptation, inputs, th))  # type: ignore[arg-type]
         if inputs.adaptation is not None and inputs.reference_episodes is not None
         else lambda: [Verdict(s, NA, "-", "no adapted parameters") for s in (
             "adaptation distance", "per-layer change", "feature similarity")]),
        ("embedding drift", (lambda: [judge_drift(signals.embedding_drift(
            inputs.previous_embed, inputs.embed,  # type: ignore[arg-type]
            torch.cat([torch.cat([ep[0], ep[2]]) for ep in test[:20]])), th)])
         if inputs.previous_embed is not None and inputs.embed is not None
         else missing("embedding drift", "needs a previous version")),
    ]  # fmt: skip
    out: list[Verdict] = []
    for i, (stage, run) in enumerate(steps, start=1):
        progress.begin(stage, i, len(steps))
        out += run()
    return out


def format_report(title: str, verdicts: Sequence[Verdict], header: Sequence[str] = ()) -> str:
    """Lay verdicts out as a one-screen table with a summary line."""
    rule = "-" * 112
    lines = [title, *header, rule, f"{'signal':<24}{'value':<64}{'verdict':<8}note", rule]
    lines += [f"{v.signal:<24}{v.value:<64}{v.status:<8}{v.note}" for v in verdicts]
    counts = {s: sum(v.status == s for v in verdicts) for s in (OK, WARN, FAIL, NA)}
    lines += [rule, "summary: " + ", ".join(f"{n} {s}" for s, n in counts.items())]
    return "\n".join(lines)


def health_report(
    inputs: ReportInputs,
    *,
    title: str = "Health report",
    thresholds: Thresholds | None = None,
    progress: Progress | None = None,
) -> str:
    """One-screen report: `collect_verdicts` laid out by `format_report`."""
    return format_report(title, collect_verdicts(inputs, thresholds, progress))


# --8<-- [end:collect]


# --8<-- [start:model-report]
def method_features(method: str, model: nn.Module, cfg: Any) -> Embed | None:
    """The frozen feature extractor of a model, from the method table's `embed`; None if none."""
    features = methods.get(method).embed
    if features is None:
        return None
    return lambda x: features(model, x, cfg)


def adapts_parameters(row: methods.Method) -> bool:
    """Whether a method adapts its parameters at test time: its algorithm file defines
    `adapt(model, params, support_x, support_y, cfg, steps)` and `task_loss(outputs, targets,
    cfg)`, and its config `test_inner_steps` (MAML and first-order MAML today)."""
    fields = {f.name for f in dataclasses.fields(row.config_class)}
    has = all(callable(getattr(row.module, name, None)) for name in ("adapt", "task_loss"))
    return has and "test_inner_steps" in fields


def inner_loop_traces(
    row: methods.Method,
    model: nn.Module,
    cfg: Any,
    episodes: Sequence[EpisodeLike],
    steps: int | None = None,
) -> list[signals.InnerLoopTrace]:
    """Trace a method's own inner loop (its `adapt`, one step at a time) on each support set.

    Args:
        row: A method table row for which `adapts_parameters` holds (e.g. `methods.get("maml")`).
        model: Its network holding the meta-parameters; not modified.
        cfg: Its configuration (`inner_lr`, `task`, ...).
        episodes: Episodes; only the support sets are used.
        steps: Steps to trace; default `cfg.test_inner_steps`.
    """
    steps = cfg.test_inner_steps if steps is None else steps
    params = {name: p.detach() for name, p in model.named_parameters()}
    traces = []
    for support_x, support_y, _, _ in episodes:

        def support_loss(p: Params, sx: Tensor = support_x, sy: Tensor = support_y) -> Tensor:
            return row.module.task_loss(functional_call(model, p, (sx,)), sy, cfg)

        def step(p: Params, sx: Tensor = support_x, sy: Tensor = support_y) -> Params:
            return row.module.adapt(model, p, sx, sy, cfg, steps=1)

        traces.append(signals.inner_loop_trace(support_loss, step, params, steps))
    return traces


class _Features(nn.Module):
    """`embed(model, x, cfg)` as a module, so `functional_call` can run it under other parameters."""

    def __init__(self, model: nn.Module, embed: Callable[..., Tensor], cfg: Any) -> None:
        super().__init__()
        self.model, self.embed, self.cfg = model, embed, cfg

    def forward(self, x: Tensor) -> Tensor:
        return self.embed(self.model, x, self.cfg)


def parameter_adaptation(row: methods.Method, model: nn.Module, cfg: Any) -> Adaptation:
    """The parameter-space inputs of a method that adapts parameters: its `adapt` and its
    table `embed` (for MAML the features before the head) under any parameters."""
    params = {name: p.detach() for name, p in model.named_parameters()}
    if row.embed is None:
        raise ValueError(f"method {row.name!r} has no embed in the method table")
    wrapped = _Features(model, row.embed, cfg)

    def adapt(support_x: Tensor, support_y: Tensor) -> Params:
        adapted = row.module.adapt(model, params, support_x, support_y, cfg, cfg.test_inner_steps)
        return {name: p.detach() for name, p in adapted.items()}

    def features(p: Params, x: Tensor) -> Tensor:
        return functional_call(wrapped, {f"model.{n}": v for n, v in p.items()}, (x,))

    def traces(episodes: Sequence[EpisodeLike]) -> list[signals.InnerLoopTrace]:
        return inner_loop_traces(row, model, cfg, episodes)

    return Adaptation(params, adapt, features, traces)


def model_report(
    method: str,
    model: nn.Module,
    cfg: Any,
    *,
    train_data: Tensor,
    test_data: Tensor,
    val_data: Tensor,
    baseline: Predict | None = None,
    previous: nn.Module | None = None,
    episodes: int = 1000,
    n_way: int = 5,
    k_shot: int = 1,
    n_query: int = 15,
    eval_seed: int = 0,
    prototype_classes: int = 400,
    calibration_tasks: int = 200,
    shot_episodes: int = 50,
    title: str = "Health report",
    header: Sequence[str] = (),
    progress: Progress | None = None,
) -> str:
    """Health report of a model of a registered method on class tensors `(C, E, *x_shape)`.

    Test episodes are `evaluation.fixed_episodes(test_data, ..., episodes, eval_seed)`, the
    published cell's; the overfitting gap uses as many episodes of `train_data`; the task-shift
    score is calibrated on `val_data` with prototypes of `prototype_classes` random training
    classes and `calibration_tasks` tasks; the parameter-space signals compare the test tasks
    with as many `val_data` tasks. `previous` is an earlier model of the same method.

    Raises:
        ValueError: If `episodes < 2` or the episode shape does not fit the data.
    """
    from reference_impl.evaluation import fixed_episodes

    if episodes < 2:
        raise ValueError(f"episodes must be >= 2, got {episodes}")
    row = common.load_method(method)
    predict = finite_logits(row.make_predict(model, cfg), "the model")
    draw = lambda data: fixed_episodes(data, n_way, k_shot, n_query, episodes, eval_seed)  # noqa: E731
    embed = method_features(method, model, cfg)
    reference, before, adaptation = None, None, None
    if embed is not None:
        pick = torch.randperm(train_data.shape[0], generator=torch.Generator().manual_seed(0))
        reference = signals.fit_task_shift(
            embed, train_data[pick[:prototype_classes]], val_data,
            n_way=n_way, k_shot=k_shot, num_tasks=calibration_tasks,
        )  # fmt: skip
    if adapts_parameters(row) and row.embed is not None:
        before = finite_logits(
            row.make_predict(model, dataclasses.replace(cfg, test_inner_steps=0)), "the model"
        )
        adaptation = parameter_adaptation(row, model, cfg)
    previous_embed = method_features(method, previous, cfg) if previous is not None else None
    inputs = ReportInputs(
        predict, draw(test_data), before=before, baseline=baseline,
        train_episodes=draw(train_data), reference_episodes=draw(val_data), shot_data=test_data,
        embed=embed, shift_reference=reference, adaptation=adaptation,
        previous_embed=previous_embed, shot_episodes=shot_episodes,
    )  # fmt: skip
    return format_report(title, collect_verdicts(inputs, progress=progress), header)


# --8<-- [end:model-report]


# --8<-- [start:main]
def published_cell(checkpoint: Path) -> dict[str, Any] | None:
    """The result file a published checkpoint belongs to (same stem, one folder up), if any."""
    path = checkpoint.resolve().parent.parent / f"{checkpoint.stem}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    parser = common.ArgumentParser(
        prog="python -m benchmarks.health",
        description="Print the one-screen health report of a trained checkpoint.",
    )
    parser.add_argument(
        "checkpoint", type=common.path_arg, help="weights file of a saved checkpoint"
    )
    parser.add_argument(
        "--baseline", type=common.path_arg, help="transfer-baseline checkpoint (margin)"
    )
    parser.add_argument(
        "--previous", type=common.path_arg, help="earlier checkpoint (embedding drift)"
    )
    parser.add_argument(
        "--episodes", type=common.int_at_least(2), help="test episodes (default: the published "
        "cell's, else the method's paper count)",
    )  # fmt: skip
    parser.add_argument(
        "--part", choices=("train", "val", "test"), default="test", help="split part to test on"
    )
    parser.add_argument(
        "--split", choices=common.SPLITS, help="Omniglot split (default: the checkpoint's)"
    )
    parser.add_argument(
        "--n-way", type=common.int_at_least(2), help="N (default: the checkpoint's setting)"
    )
    parser.add_argument(
        "--k-shot", type=common.int_at_least(1), help="K (default: the checkpoint's setting)"
    )
    parser.add_argument(
        "--eval-seed", type=common.seed, help="seed of the test episodes (default 0)"
    )
    parser.add_argument("--data-root", type=common.path_arg, help="Omniglot folder")
    parser.add_argument(
        "--out", type=common.path_arg, help="also write the report (and this command) here"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def run(argv: list[str]) -> str:
    """Build the report the command line asks for, print it, write it if `--out` is given."""
    from benchmarks.train import load_part
    from reference_impl import checkpoints

    args = build_parser().parse_args(argv)
    for path in (args.checkpoint, args.baseline, args.previous):
        if path is not None:
            common.check_model_checkpoint(path)
    if args.out is not None:
        common.check_output_file(
            args.out, inputs=(args.checkpoint, args.baseline, args.previous),
            writer="benchmarks.health",
        )  # fmt: skip
    try:
        meta = checkpoints.load_checkpoint(args.checkpoint).metadata
        model, cfg = checkpoints.load_model(args.checkpoint)
        baseline = (
            finite_logits(checkpoints.load_predictor(args.baseline), str(args.baseline))
            if args.baseline
            else None
        )
        previous = checkpoints.load_model(args.previous)[0] if args.previous else None
        earlier = checkpoints.load_checkpoint(args.previous).metadata if args.previous else meta
    except (OSError, ValueError, KeyError) as err:
        raise HarnessError(f"cannot load a checkpoint: {err}") from err
    if earlier["method"] != meta["method"]:  # embedding drift compares one method's embeddings
        raise HarnessError(
            f"--previous {args.previous} holds a {earlier['method']!r} model; "
            f"{args.checkpoint} is {meta['method']!r}: drift compares two models of one method"
        )
    extra = meta.get("extra") or {}
    method, split = meta["method"], args.split or meta["split"]
    cell = published_cell(args.checkpoint) if args.part == "test" and not args.split else None
    setting = common.parse_setting(extra["setting"]) if "setting" in extra else (5, 1)
    n_way = args.n_way or (cell or {}).get("n_way") or setting[0]
    k_shot = args.k_shot or (cell or {}).get("k_shot") or setting[1]
    row = common.load_method(extra.get("harness_method", method))
    episodes = args.episodes or (cell or {}).get("episodes") or row.test_episodes
    eval_seed = args.eval_seed if args.eval_seed is not None else (cell or {}).get("eval_seed", 0)
    data_args = argparse.Namespace(data="omniglot", data_root=args.data_root, split=split)
    parts = {p: load_part(data_args, p, torch.float32) for p in ("train", "val", args.part)}
    header = []
    if cell is not None and (cell["n_way"], cell["k_shot"], cell["episodes"]) == (
        n_way, k_shot, episodes
    ):  # fmt: skip
        header.append(
            f"published cell: accuracy {cell['accuracy']:.4f} ± {cell['ci95']:.4f} on these "
            f"{episodes} test episodes (eval seed {eval_seed}), as in the adaptation gain's line"
        )
    try:
        report = model_report(
            method, model, cfg, train_data=parts["train"], test_data=parts[args.part],
            val_data=parts["val"], baseline=baseline, previous=previous, episodes=episodes,
            n_way=n_way, k_shot=k_shot, n_query=common.TEST_QUERIES, eval_seed=eval_seed,
            title=(
                f"Health report · {extra.get('harness_method', method)} · {args.checkpoint.name}"
                f" · split {split}, part {args.part} · {episodes} episodes {n_way}-way "
                f"{k_shot}-shot"
            ),
            header=header, progress=Progress(every=math.inf if args.quiet else 5.0),
        )  # fmt: skip
    except ValueError as err:
        raise HarnessError(str(err)) from err
    print(report)
    if args.out is not None:
        command = common.command_line("benchmarks.health", argv)
        files.atomic_write(args.out, f"$ {command}\n\n{report}\n".encode())
    return report


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.health`; bad input prints one line on stderr and returns 2."""
    return common.run_cli("benchmarks.health", run, argv)


if __name__ == "__main__":
    sys.exit(main())
# --8<-- [end:main]
