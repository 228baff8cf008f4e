# ruff: noqa: F821  (MemorisationConfig, make_classes, sample_tasks, meta_train, no_meta_training,
# adapt_head, head_logits and Learner come from glossary_memorization-problem_tasks.py, included
# in the same executed block before this file)
# Ten training classes (two per label), 100 new classes; 5-way 1-shot tasks. Three meta-training
# runs on the same training classes: labels fixed per class (non-mutually-exclusive), the same with
# meta-regularisation, and labels shuffled per task (task augmentation), plus the start without
# meta-training. Every learner is scored on the same 200 tasks of each group, through the signals
# library: accuracy after its inner step, and the same with the support labels shuffled.
import claims
import figures
import torch

from reference_impl.signals import adaptation_gain, per_episode_scores, shuffled_support

cfg = MemorisationConfig()
TRAIN_CLASSES, NEW_CLASSES, EXAMPLES, EVAL_TASKS, KL_WEIGHT = 10, 100, 20, 200, 0.1
data_generator = torch.Generator().manual_seed(0)
train_data = make_classes(TRAIN_CLASSES, EXAMPLES, cfg, data_generator)
new_data = make_classes(NEW_CLASSES, EXAMPLES, cfg, data_generator)
runs = {  # name -> (fixed labels during meta-training, config)
    "fixed labels": (True, cfg),
    "fixed labels + meta-regularisation": (True, MemorisationConfig(kl_weight=KL_WEIGHT)),
    "shuffled labels (task augmentation)": (False, cfg),
}
learners = {
    name: meta_train(train_data, run_cfg, fixed, torch.Generator().manual_seed(1))
    for name, (fixed, run_cfg) in runs.items()
}
learners["no meta-training"] = no_meta_training(cfg)


def predictor(learner: Learner):
    """`predict(support_x, support_y, query_x) -> logits (N*Q, N)` of one adapted task."""

    def predict(support_x, support_y, query_x):
        scale = learner.feature_scale
        weight, bias = adapt_head(
            learner.head_weight, learner.head_bias, (scale * support_x)[None], support_y[None],
            cfg.n_way, cfg.inner_lr,
        )  # fmt: skip
        return head_logits(weight, bias, (scale * query_x)[None])[0]

    return predict


def single(batch):
    """A meta-batch of episodes as a list of single episodes, as the signals library takes them."""
    return [tuple(t[i] for t in batch) for i in range(batch[0].shape[0])]


seen = single(sample_tasks(train_data, cfg, EVAL_TASKS, True, torch.Generator().manual_seed(2)))
new = single(sample_tasks(new_data, cfg, EVAL_TASKS, False, torch.Generator().manual_seed(3)))
accuracy = {}  # (learner, group) -> per-task query accuracy after the inner step, same tasks
gain = {}  # learner -> adaptation gain on training tasks against shuffled support labels
for name, learner in learners.items():
    predict = predictor(learner)
    accuracy[name, "seen"] = per_episode_scores(predict, seen)[0]
    accuracy[name, "seen, shuffled"] = per_episode_scores(shuffled_support(predict), seen)[0]
    accuracy[name, "new"] = per_episode_scores(predict, new)[0]
    gain[name] = adaptation_gain(predict, seen)  # before = the same, support labels shuffled

# The page's sentences, checked against this output:
fixed, regularised, shuffled, scratch = learners
chance = 1 / cfg.n_way
claims.above(
    claims.mean_ci(accuracy[fixed, "seen, shuffled"]), chance,
    "with fixed labels, training tasks are solved above chance even with shuffled support labels",
)  # fmt: skip
augmented_shuffled = claims.mean_ci(accuracy[shuffled, "seen, shuffled"])
claims.check(
    chance - 0.06 < augmented_shuffled.low and augmented_shuffled.high < chance + 0.06,
    "the task-augmented learner falls to about chance when its support labels are shuffled",
    f"{augmented_shuffled} against chance {chance}",
)
memorised = claims.greater(
    accuracy[fixed, "seen, shuffled"], accuracy[shuffled, "seen, shuffled"],
    "with shuffled support labels, the fixed-label learner beats the task-augmented one",
)  # fmt: skip
better_seen = claims.greater(
    accuracy[fixed, "seen"], accuracy[shuffled, "seen"],
    "the fixed-label learner is better on its training tasks than the task-augmented one",
)  # fmt: skip
augment = claims.greater(
    accuracy[shuffled, "new"], accuracy[fixed, "new"],
    "shuffling labels beats fixed labels on new classes",
)  # fmt: skip
harm = claims.greater(
    accuracy[scratch, "new"], accuracy[fixed, "new"],
    "meta-training on fixed labels ends below no meta-training on new classes",
)  # fmt: skip
claims.greater(
    accuracy[shuffled, "new"], accuracy[scratch, "new"],
    "with shuffled labels, meta-training beats no meta-training on new classes",
)  # fmt: skip
regular = claims.greater(
    accuracy[regularised, "new"], accuracy[fixed, "new"],
    "meta-regularisation recovers part of the loss on new classes",
)  # fmt: skip
claims.greater(
    accuracy[shuffled, "new"], accuracy[regularised, "new"],
    "meta-regularisation recovers only part of what shuffling does",
)  # fmt: skip

cells = {key: claims.mean_ci(values) for key, values in accuracy.items()}
groups = ["seen, shuffled", "seen", "new"]
categories = ["training tasks,\nsupport labels shuffled", "training tasks", "new classes"]
series = [
    figures.Series(
        name, list(range(len(groups))), [cells[name, g].mean for g in groups],
        ci=[cells[name, g].ci95 for g in groups],
    )
    for name in learners
]  # fmt: skip
fig = figures.intervals(
    categories, series, y_label="query accuracy after adaptation", reference=chance,
    reference_label=f"chance (1/{cfg.n_way})", legend_loc="above", size=(7.0, 4.2),
)  # fmt: skip
rows = [
    [name, *(f"{cells[name, g].mean:.3f} ± {cells[name, g].ci95:.3f}" for g in groups),
     f"{gain[name].mean:+.3f} ± {gain[name].ci95:.3f}"]
    for name in learners
]  # fmt: skip
print(
    figures.render(
        fig,
        alt="Query accuracy after one adaptation step of four learners, on training tasks with "
        "shuffled and with true support labels, and on new classes. The fixed-label learner stays "
        "above chance with shuffled labels, is best on training tasks and worst on new classes; "
        "the shuffled-label learner is at chance with shuffled labels and best on new classes.",
        caption=f"{cfg.n_way}-way {cfg.k_shot}-shot, {TRAIN_CLASSES} training classes, "
        f"{EVAL_TASKS} tasks per group, the same tasks for every learner; bars are 95% "
        f"confidence intervals over tasks. Meta-regularisation weight {KL_WEIGHT}.",
        numbers=figures.table(
            [
                "meta-training",
                "training tasks, support labels shuffled",
                "training tasks",
                "new classes",
                "adaptation gain on training tasks (true − shuffled labels)",
            ],
            rows,
        ),
    )
)
print(
    f"Paired differences over the same tasks (95% CI): on training tasks with shuffled support "
    f"labels, fixed − shuffled {memorised.mean:+.3f} ± {memorised.ci95:.3f}; on training tasks, "
    f"fixed − shuffled "
    f"{better_seen.mean:+.3f} ± {better_seen.ci95:.3f}; on new classes, shuffled − fixed "
    f"{augment.mean:+.3f} ± {augment.ci95:.3f}, no meta-training − fixed {harm.mean:+.3f} ± "
    f"{harm.ci95:.3f}, meta-regularised − fixed {regular.mean:+.3f} ± {regular.ci95:.3f}."
)
