# ruff: noqa: F821  (make_domain, sample_episodes, init_embedding, pretrain, meta_train, fine_tune
# and accuracy come from glossary_pretrained-backbones_pipeline.py, included before this file)
# One synthetic domain; backbones pretrained on 5, 20, 80 or 320 of its classes with the same
# budget, then meta-trained (M) and fine-tuned on each test episode's support set (F). Tested
# 5-way 5-shot on unseen classes of the same domain and of a shifted one (new nuisance mixing).
import claims
import figures
import torch

INPUT, LATENT, NUISANCE, HIDDEN, FEATURES = 24, 6, 8, 48, 16
CLASS_COUNTS = (5, 20, 80, 320)
WAYS, SHOTS, QUERIES, TEST_EPISODES = 5, 5, 10, 200
PRE_STEPS, PRE_BATCH, PRE_LR = 150, 128, 1e-2  # stage P, same budget for every class count
META_STEPS, META_EPISODES, META_LR = 40, 8, 1e-3  # stage M, 5-way 5-shot, 5 queries per class
FT_STEPS, FT_LR = 10, 3e-3  # stage F on each test episode's support set
SCRATCH_LRS = (3e-3, 3e-2, 3e-1)  # from random weights: the best on validation episodes
SAME = 0.02  # a paired interval inside ±SAME counts as "changes nothing that matters"

g = torch.Generator().manual_seed(0)
domain = make_domain(INPUT, LATENT, NUISANCE, g)
shifted = make_domain(INPUT, LATENT, NUISANCE, torch.Generator().manual_seed(1), domain.signal)
base = torch.randn(max(CLASS_COUNTS), LATENT, generator=g)  # base classes (nested prefixes)
novel = torch.randn(200, LATENT, generator=g)  # unseen classes, shared by both test domains
domains = {"same domain": domain, "shifted domain": shifted}
test = {
    name: sample_episodes(d, novel, TEST_EPISODES, WAYS, SHOTS, QUERIES, torch.Generator().manual_seed(2))
    for name, d in domains.items()
}  # fmt: skip
init = init_embedding(INPUT, HIDDEN, FEATURES, torch.Generator().manual_seed(3))

# Scratch: the same network from random weights, trained only on the support set; its step size
# is the best of SCRATCH_LRS on validation episodes from the base classes.
val = sample_episodes(domain, base, 60, WAYS, SHOTS, QUERIES, torch.Generator().manual_seed(4))
scratch_lr = max(
    SCRATCH_LRS,
    key=lambda lr: accuracy(fine_tune(init, val[0], val[1], WAYS, FT_STEPS, lr), val, WAYS).mean(),
)
acc = {}  # (domain, pipeline, class count or None) -> per-episode query accuracy
for name, episode in test.items():
    tuned = fine_tune(init, episode[0], episode[1], WAYS, FT_STEPS, scratch_lr)
    acc[name, "scratch", None] = accuracy(tuned, episode, WAYS).tolist()
for count in CLASS_COUNTS:
    classes = base[:count]
    p = pretrain(
        init, domain, classes, PRE_STEPS, PRE_BATCH, PRE_LR, torch.Generator().manual_seed(5)
    )
    pm = meta_train(
        p, domain, classes, META_STEPS, META_EPISODES, WAYS, SHOTS, 5, META_LR,
        torch.Generator().manual_seed(6),
    )  # fmt: skip
    for name, episode in test.items():
        acc[name, "P", count] = accuracy(p, episode, WAYS).tolist()
        acc[name, "P>M", count] = accuracy(pm, episode, WAYS).tolist()
        pmf = fine_tune(pm, episode[0], episode[1], WAYS, FT_STEPS, FT_LR)
        acc[name, "P>M>F", count] = accuracy(pmf, episode, WAYS).tolist()

# The page's sentences, checked against this output (paired over the same test episodes):
same, shift = domains
low, mid, high, top = CLASS_COUNTS
for a, b in ((low, mid), (mid, high)):
    claims.greater(
        acc[same, "P", b], acc[same, "P", a],
        f"in the same domain, pretraining on {b} classes beats {a} classes",
    )  # fmt: skip
saturation = claims.paired(
    [t - h for t, h in zip(acc[same, "P", top], acc[same, "P", high], strict=True)],
    [h - m for h, m in zip(acc[same, "P", high], acc[same, "P", mid], strict=True)],
)
claims.check(
    saturation.high < 0,
    f"going from {high} to {top} classes gains less than going from {mid} to {high}",
    str(saturation),
)
over_scratch = claims.greater(
    acc[same, "P", low], acc[same, "scratch", None],
    f"a backbone pretrained on only {low} classes beats training from scratch on the support set",
)  # fmt: skip
ft_gain = {}
for count in CLASS_COUNTS:
    ft_gain[count] = claims.greater(
        acc[shift, "P>M>F", count], acc[shift, "P>M", count],
        f"under the shift, fine-tuning on the support set helps ({count} classes)",
    )  # fmt: skip
breadth = {d: claims.paired(acc[d, "P", top], acc[d, "P", low]) for d in domains}
claims.check(
    breadth[shift].high < breadth[same].low,
    "more pretraining classes help far less under the shift than in the same domain",
    f"{breadth[shift]} vs {breadth[same]}",
)
claims.check(
    not breadth[shift].low > 0,
    "under the shift, the largest class count shows no gain over the smallest",
    str(breadth[shift]),
)
for count in CLASS_COUNTS:
    claims.greater(
        acc[shift, "P>M>F", count], acc[shift, "scratch", None],
        f"under the shift, P>M>F beats scratch ({count} classes)",
    )  # fmt: skip
meta_gain = {c: claims.paired(acc[same, "P>M", c], acc[same, "P", c]) for c in CLASS_COUNTS}
for count in CLASS_COUNTS:
    if count < high:
        claims.greater(
            acc[same, "P>M", count], acc[same, "P", count],
            f"in the same domain, meta-training on top of pretraining helps ({count} classes)",
        )  # fmt: skip
    claims.check(
        meta_gain[count].high < breadth[same].low,
        "the gain from meta-training is small next to the gain from more pretraining classes",
        f"{meta_gain[count]} vs {breadth[same]}",
    )
ft_same = {c: claims.paired(acc[same, "P>M>F", c], acc[same, "P>M", c]) for c in CLASS_COUNTS}
for count in CLASS_COUNTS:
    claims.check(
        -SAME < ft_same[count].low and ft_same[count].high < SAME,
        f"in the same domain, fine-tuning changes accuracy by less than {SAME} ({count} classes)",
        str(ft_same[count]),
    )

cells = {key: claims.mean_ci(values) for key, values in acc.items()}
pipelines = ("P", "P>M", "P>M>F")
labels = {"P": "P: pretrained + prototypes", "P>M": "P>M: + meta-training",
          "P>M>F": "P>M>F: + fine-tuning"}  # fmt: skip
fig, axes = figures.canvas(size=(7.6, 3.4), ncols=2, sharey=True)
with figures.style():
    for ax, name in zip(axes, domains, strict=True):
        for i, pipe in enumerate(pipelines):
            mean = [cells[name, pipe, c].mean for c in CLASS_COUNTS]
            ci = [cells[name, pipe, c].ci95 for c in CLASS_COUNTS]
            ax.errorbar(
                CLASS_COUNTS, mean, yerr=ci, color=figures.color(i), marker=figures.marker(i),
                capsize=3, label=labels[pipe],
            )  # fmt: skip
        scratch = cells[name, "scratch", None]
        ax.axhline(
            scratch.mean,
            color=figures.color(3),
            ls="--",
            lw=1.2,
            label="scratch on the support set",
        )
        ax.axhline(1 / WAYS, color=figures.FOREGROUND, ls=":", lw=1, label="chance")
        ax.set_xscale("log")
        ax.set_xticks(CLASS_COUNTS, [str(c) for c in CLASS_COUNTS])
        ax.minorticks_off()
        ax.set_title(name)
        ax.set_xlabel("pretraining classes")
    axes[0].set_ylabel(f"{WAYS}-way {SHOTS}-shot query accuracy")
    axes[0].set_ylim(0, 1)
    axes[1].legend(loc="upper right", fontsize=7)
rows = [
    [name, labels.get(pipe, pipe), *(
        f"{cells[name, pipe, c].mean:.3f} ± {cells[name, pipe, c].ci95:.3f}"
        if (name, pipe, c) in cells else f"{cells[name, pipe, None].mean:.3f} ± "
        f"{cells[name, pipe, None].ci95:.3f}" for c in CLASS_COUNTS
    )]
    for name in domains for pipe in ("scratch", *pipelines)
]  # fmt: skip
print(
    figures.render(
        fig,
        alt="Two panels of query accuracy against the number of pretraining classes. In the same "
        "domain all three pipelines rise steeply and level off, far above training from scratch; "
        "in the shifted domain they stay low and only fine-tuning lifts them.",
        caption=f"{TEST_EPISODES} test episodes per panel from unseen classes; bars are 95% "
        f"confidence intervals over episodes. Every backbone had {PRE_STEPS} pretraining steps "
        f"of {PRE_BATCH} examples and {META_STEPS} meta-training steps; fine-tuning is "
        f"{FT_STEPS} gradient steps on each episode's support set.",
        numbers=figures.table(["test domain", "pipeline", *map(str, CLASS_COUNTS)], rows),
    )
)
print(
    f"Paired differences (95% CI) over the same episodes. Same domain: {top} − {low} classes "
    f"(P) {breadth[same].mean:+.3f} ± {breadth[same].ci95:.3f}; P ({low} classes) − scratch "
    f"{over_scratch.mean:+.3f} ± {over_scratch.ci95:.3f}; meta-training P>M − P "
    + ", ".join(f"{meta_gain[c].mean:+.3f} ± {meta_gain[c].ci95:.3f} ({c})" for c in CLASS_COUNTS)
    + "; fine-tuning P>M>F − P>M "
    + ", ".join(f"{ft_same[c].mean:+.3f} ± {ft_same[c].ci95:.3f} ({c})" for c in CLASS_COUNTS)
    + f". Shifted domain: {top} − {low} classes (P) {breadth[shift].mean:+.3f} ± "
    f"{breadth[shift].ci95:.3f}; fine-tuning P>M>F − P>M "
    + ", ".join(f"{ft_gain[c].mean:+.3f} ± {ft_gain[c].ci95:.3f} ({c})" for c in CLASS_COUNTS)
    + f". Scratch used step size {scratch_lr:g}, chosen on validation episodes."
)
