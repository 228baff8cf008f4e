"""The guide's signal table: one row per implemented signal, thresholds read from `Thresholds`."""

from reference_impl.signals import Thresholds

th = Thresholds()
ROWS = [
    ("adaptation-gain", "Adaptation gain", "adaptation_gain",
     "accuracy with the task's support set minus without it (or before/after MAML's inner loop)",
     f"the gain's CI reaches 0, or more than {th.max_share_hurt:.0%} of tasks are hurt"),
    ("baseline-margin", "Baseline margin", "baseline_margin",
     "method minus a pre-trained classifier on the same episodes, paired CI",
     f"the CI's lower end is at or below {th.margin_min:g}"),
    ("meta-overfitting-gap", "Meta-overfitting gap", "meta_overfitting_gap",
     "accuracy on training classes minus on held-out classes",
     f"above {th.gap_warn:g} and growing; above {th.gap_fail:g}"),
    ("shot-curve", "Shot curve", "shot_curve", "accuracy as K grows, on nested support sets",
     f"flat (gain within its CI of 0) while accuracy at the smallest K is below {th.saturated:g}"),
    ("task-shift", "Task shift", "task_shift",
     "distance of a task's support embeddings to the training prototypes, against in-domain tasks",
     f"more than {th.flagged_warn:.0%} of tasks past the in-domain q<sub>0.95</sub>"),
    ("calibration", "Calibration", "calibration", "expected calibration error of the queries",
     f"ECE above {th.ece_warn:g} (above {th.ece_fail:g}: do not gate on confidence)"),
    ("inner-loop-health", "Inner-loop health", "inner_loop_health",
     "MAML's support loss per inner step, gradient norms, non-finite values",
     f"loss rising on any task (on more than {th.max_share_hurt:.0%}: failing), any non-finite value"),
    ("order-sensitivity", "Order sensitivity", "order_sensitivity",
     "share of query predictions that change when the support set is permuted",
     f"above {th.order_flip_warn:.0%}"),
    ("rebatching-consistency", "Re-batching consistency", "rebatching_consistency",
     "share of query predictions that change when queries arrive one at a time",
     f"above {th.rebatch_flip_warn:.0%}"),
    ("adaptation-distance", "Adaptation distance", "adaptation_distance",
     "distance of the adapted parameters from the learned start, against in-domain tasks",
     f"more than {th.distance_flagged_warn:.0%} of tasks past the in-domain q<sub>0.95</sub>"),
    ("per-layer-change", "Per-layer change", "layer_change",
     "how far adaptation moves each parameter tensor, against in-domain tasks",
     f"a layer moves more than {th.layer_ratio_warn:g} times as far as in-domain"),
    ("feature-similarity", "Feature similarity across adaptation", "embedding_drift",
     "linear CKA between the features before and after adaptation",
     f"more than {th.cka_drop_warn:g} below its in-domain value"),
    ("embedding-drift", "Embedding drift", "embedding_drift",
     "linear CKA between two model versions' features of fixed probe inputs",
     f"CKA below {th.drift_cka_warn:g}"),
    ("support-statistics", "Support-set statistics", "support_statistics",
     "suspect labels (nearer another class's mean), repeated inputs, unequal shots",
     f"suspects more than {th.suspect_excess_warn:.0%} above in-domain; any repeated input"),
]  # fmt: skip
print("| Signal | What it measures | Worry when | Function |\n|---|---|---|---|")
for anchor, name, function, what, worry in ROWS:
    print(f"| [{name}](#signal-{anchor}) | {what} | {worry} | `signals.{function}` |")
