# ruff: noqa: F821  (GaussianTasks, sample_tasks, posterior, shrinkage, predictive_nll,
# LearnedPrior, AmortisedPosterior, meta_train and support_weight come from
# glossary_bayesian-meta-learning_model.py, included in the same executed block just before this)
# Meta-train a learned prior (exact inference) and an amortised posterior network on the same
# tasks with 1-16 support points; score both, the true-prior Bayes predictive and two
# non-learners on new tasks, including a support size no learner was trained on.
import claims
import figures
import torch

TASKS = GaussianTasks()
TRAIN_SHOTS, TEST_SHOTS = (1, 2, 4, 8), (1, 2, 4, 8, 32, 128)
STEPS, TASKS_PER_STEP, QUERIES, TEST_TASKS = 600, 64, 10, 2000
LR = {"learned prior, exact inference": 0.03, "amortised network": 0.01}
torch.manual_seed(0)  # the amortised network's initial weights
learners = {
    "learned prior, exact inference": LearnedPrior(),
    "amortised network": AmortisedPosterior(),
}
for seed, (name, learner) in enumerate(learners.items()):
    meta_train(
        learner, TASKS, TRAIN_SHOTS, STEPS, TASKS_PER_STEP, QUERIES, LR[name],
        torch.Generator().manual_seed(seed + 1),
    )  # fmt: skip
prior = learners["learned prior, exact inference"]
learned = {
    "m": prior.prior_mean.item(),
    "tau": prior.log_prior_std.exp().item(),
    "sigma": prior.log_noise_std.exp().item(),
}

nll, weight = {}, {}  # (method, K) -> per-task NLL; (method, K) -> weight on the support mean
truth = (TASKS.prior_mean, TASKS.prior_std, TASKS.noise_std)
for k in TEST_SHOTS:
    support, query = sample_tasks(
        TASKS, TEST_TASKS, k, QUERIES, torch.Generator().manual_seed(100 + k)
    )
    mean, std = posterior(support, *truth)
    predictions = {
        "Bayes, true prior": (mean, (std**2 + TASKS.noise_std**2).sqrt()),
        "support mean only": (
            support.mean(-1),
            torch.full((TEST_TASKS,), TASKS.noise_std * (1 + 1 / k) ** 0.5),
        ),
        "prior only": (
            torch.full((TEST_TASKS,), TASKS.prior_mean),
            torch.full((TEST_TASKS,), (TASKS.prior_std**2 + TASKS.noise_std**2) ** 0.5),
        ),
    }
    with torch.no_grad():
        predictions.update({name: learner(support) for name, learner in learners.items()})
    for name, (m, s) in predictions.items():  # (T,) each
        nll[name, k] = predictive_nll(m, s, query).tolist()
    weight["exact", k] = shrinkage(k, TASKS.prior_std, TASKS.noise_std)
    for name, learner in learners.items():
        weight[name, k] = support_weight(learner, k, TASKS.prior_mean)

# The page's sentences, checked against this output (paired over the same new tasks):
claims.check(
    all(
        abs(learned[key] - value) < 0.1
        for key, value in zip(("m", "tau", "sigma"), truth, strict=True)
    ),
    "the learned prior recovers the true m, tau and sigma to within a tenth",
    str(learned),
)
excess = {}  # (method, K) -> paired NLL difference against the true-prior Bayes predictive
for k in TEST_SHOTS:
    for name in ("support mean only", "prior only", *learners):
        excess[name, k] = claims.paired(nll[name, k], nll["Bayes, true prior", k])
    claims.below(
        excess["learned prior, exact inference", k], 0.002,
        f"the learned prior costs almost nothing against the true prior at K = {k}",
    )  # fmt: skip
for k in TRAIN_SHOTS:
    for name in ("support mean only", "prior only"):
        claims.greater(
            nll[name, k], nll["learned prior, exact inference", k],
            f"the learned prior beats '{name}' at K = {k}",
        )  # fmt: skip
    claims.check(
        abs(weight["amortised network", k] - weight["exact", k]) < 0.1,
        f"the amortised network's weight on the support mean is near the exact one at K = {k}",
        f"{weight['amortised network', k]:.3f} against {weight['exact', k]:.3f}",
    )
worst_trained = max(TRAIN_SHOTS, key=lambda k: excess["amortised network", k].mean)
for k in TEST_SHOTS[len(TRAIN_SHOTS) :]:
    claims.check(
        weight["amortised network", k] < weight["exact", k] - 0.1,
        f"at the untrained K = {k} the amortised network under-weights the support",
        f"{weight['amortised network', k]:.3f} against {weight['exact', k]:.3f}",
    )
    claims.greater(
        nll["amortised network", k], nll["learned prior, exact inference", k],
        f"at the untrained K = {k} the amortised network falls behind exact inference",
    )  # fmt: skip
    claims.above(
        claims.difference(
            excess["amortised network", k], excess["amortised network", worst_trained]
        ),
        0.0,
        f"the amortised network's gap at the untrained K = {k} exceeds its worst trained gap",
    )

COLOURS = {
    name: figures.color(i) for i, name in enumerate((*learners, "support mean only", "prior only"))
}
fig, (left, right) = figures.canvas(size=(7.6, 4.2), ncols=2)
with figures.style():  # custom drawing: text and lines follow the page's palette
    shots = list(TEST_SHOTS)
    exact = [weight["exact", k] for k in shots]
    left.plot(shots, exact, color=figures.FOREGROUND, lw=1, ls=":", label="exact weight (Bayes)")
    for i, name in enumerate(learners):
        left.plot(
            shots, [weight[name, k] for k in shots], color=COLOURS[name],
            marker=figures.marker(i), ls="none", label=name,
        )  # fmt: skip
    left.axvspan(TRAIN_SHOTS[-1] * 1.5, TEST_SHOTS[-1] * 1.3, color=figures.MUTED, alpha=0.25, lw=0)
    left.text(TEST_SHOTS[-1] * 0.95, 0.05, "sizes not\ntrained on", ha="right", fontsize=8)
    left.set_ylim(0, 1)
    left.set_ylabel("weight on the support mean")
    right.axvspan(
        TRAIN_SHOTS[-1] * 1.5, TEST_SHOTS[-1] * 1.3, color=figures.MUTED, alpha=0.25, lw=0
    )
    for i, name in enumerate((*learners, "support mean only", "prior only")):
        values = [excess[name, k] for k in shots]
        right.errorbar(
            shots, [v.mean for v in values], yerr=[v.ci95 for v in values], color=COLOURS[name],
            marker=figures.marker(i), ls=("-", "--", "-.", ":")[i], capsize=3, label=name,
        )  # fmt: skip
    right.axhline(0, color=figures.FOREGROUND, lw=1, ls=":")
    right.set_yscale("symlog", linthresh=0.01, linscale=0.6)
    right.set_yticks([0, 0.01, 0.1], ["0", "0.01", "0.1"])
    right.set_ylim(-0.002, 0.5)
    right.set_ylabel("query NLL above Bayes (nats)")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xticks(shots, [str(k) for k in shots])
        ax.minorticks_off()
        ax.set_xlabel("support size K (log scale)")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=7)

rows = [
    [
        k,
        f"{weight['exact', k]:.3f}",
        *(f"{weight[name, k]:.3f}" for name in learners),
        *(
            f"{excess[name, k].mean:+.4f} ± {excess[name, k].ci95:.4f}"
            for name in ("support mean only", "prior only", *learners)
        ),
    ]
    for k in TEST_SHOTS
]
headers = [
    "K",
    "exact weight",
    *(f"weight, {name}" for name in learners),
    *(f"NLL − Bayes, {name}" for name in ("support mean only", "prior only", *learners)),
]
print(
    figures.render(
        fig,
        alt="Left: weight on the support mean against the support size K, exact and for the two "
        "meta-learners; both follow the exact curve over the trained sizes, the amortised network "
        "leaves it at the untrained size. Right: query NLL above the true-prior Bayes "
        "predictive for each method against K.",
        caption=f"Both learners meta-trained for {STEPS} steps on {TASKS_PER_STEP} fresh tasks per "
        f"support size; {TEST_TASKS} new tasks per K with {QUERIES} queries each; error bars are "
        "95% intervals of the paired difference. The shaded sizes were never seen in training.",
        numbers=figures.table(headers, rows),
    )
)
learned_high = max(excess["learned prior, exact inference", k].high for k in TEST_SHOTS)
print(
    f"Upper end of the learned prior's paired excess NLL over the true prior, worst K: "
    f"{learned_high:.4f} nats."
)
print(
    f"Learned prior: m = {learned['m']:.2f}, tau = {learned['tau']:.2f}, sigma = "
    f"{learned['sigma']:.2f} (true {TASKS.prior_mean:g}, {TASKS.prior_std:g}, {TASKS.noise_std:g})."
)
