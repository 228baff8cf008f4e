# ruff: noqa: F821  (sample_bandits, RecurrentPolicy, rollout, train_rl2, thompson_sampling and
# greedy_after_trying_each come from glossary_meta-reinforcement-learning_bandits.py, included in
# the same executed block just before this file)
# Meta-train an RL^2 policy across two-armed bandits, then play new bandits with its weights frozen
# and compare the reward of every pull with Thompson sampling, greedy play, random pulls and an
# oracle that knows the better arm.
import claims
import figures
import torch

ARMS, HORIZON, STEPS, BATCH, LR, TEST_BANDITS = 2, 10, 200, 256, 1e-2, 4000
torch.manual_seed(0)  # the policy's initial weights
policy = RecurrentPolicy(ARMS, hidden=16)
history = train_rl2(policy, STEPS, BATCH, HORIZON, LR, torch.Generator().manual_seed(1))

bandits = sample_bandits(TEST_BANDITS, ARMS, torch.Generator().manual_seed(2))  # (T, A)
with torch.no_grad():  # weights frozen: all adaptation happens in the hidden state
    _, rl2_rewards = rollout(policy, bandits, HORIZON, torch.Generator().manual_seed(3))
rewards = {  # method -> (T, H) rewards on the same bandits
    "RL² (GRU policy)": rl2_rewards,
    "Thompson sampling": thompson_sampling(bandits, HORIZON, torch.Generator().manual_seed(3)),
    "greedy after one pull each": greedy_after_trying_each(
        bandits, HORIZON, torch.Generator().manual_seed(3)
    ),
}
expected = {  # method -> (T,) expected reward per pull, no sampling noise
    "random arm": bandits.mean(1),
    "oracle (best arm)": bandits.max(1).values,
}
totals = {name: r.sum(1).tolist() for name, r in rewards.items()}
totals.update({name: (HORIZON * p).tolist() for name, p in expected.items()})

# The page's sentences, checked against this output (paired over the same test bandits):
rl2 = "RL² (GRU policy)"
over_random = claims.greater(totals[rl2], totals["random arm"],
                             "RL² earns more than random pulls")  # fmt: skip
versus_thompson = claims.paired(totals[rl2], totals["Thompson sampling"])
claims.check(versus_thompson.high > 0, "Thompson sampling is not better than RL² here",
             str(versus_thompson))  # fmt: skip
late = rl2_rewards[:, HORIZON // 2 :].mean(1).tolist()  # (T,) mean reward of the later pulls
claims.greater(late, rl2_rewards[:, 0].tolist(),
               "RL²'s later pulls earn more than its first: it learns within the bandit")  # fmt: skip
below_oracle = claims.greater(totals["oracle (best arm)"], totals[rl2],
                              "the oracle still earns more: exploring has a cost")  # fmt: skip

per_pull = {name: [claims.mean_ci(col.tolist()) for col in r.T] for name, r in rewards.items()}
pulls = list(range(1, HORIZON + 1))
fig, ax = figures.canvas(size=(6.4, 4.0))
with figures.style():  # custom drawing: text and lines follow the page's palette
    for i, (name, cells) in enumerate(per_pull.items()):
        means = [c.mean for c in cells]
        ax.plot(pulls, means, color=figures.color(i), marker=figures.marker(i),
                ls=("-", "--", "-.")[i], label=name)  # fmt: skip
        ax.fill_between(pulls, [c.low for c in cells], [c.high for c in cells],
                        color=figures.color(i), alpha=0.15, lw=0)  # fmt: skip
    for name, p, style in zip(expected, expected.values(), (":", (0, (5, 2))), strict=True):
        ax.axhline(claims.mean_ci(p.tolist()).mean, color=figures.FOREGROUND, lw=1.1, ls=style,
                   label=f"{name}, expected")  # fmt: skip
    ax.set_xticks(pulls)
    ax.set_xlabel("pull within the bandit")
    ax.set_ylabel("mean reward of that pull")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8)
summary = {name: claims.mean_ci(values) for name, values in totals.items()}
rows = [
    [name, f"{summary[name].mean:.3f} ± {summary[name].ci95:.3f}",
     *(f"{c.mean:.3f}" for c in per_pull[name])] if name in per_pull else
    [name, f"{summary[name].mean:.3f} ± {summary[name].ci95:.3f}", *([""] * HORIZON)]
    for name in summary
]  # fmt: skip
print(
    figures.render(
        fig,
        alt="Mean reward of each pull within a bandit for an RL² policy, Thompson sampling and "
        "greedy play, between the random-arm and best-arm levels: every method starts at the "
        "random level and climbs over the first pulls.",
        caption=f"Two-armed Bernoulli bandits with uniform arm probabilities, {HORIZON} pulls each; "
        f"RL² trained for {STEPS} REINFORCE steps of {BATCH} bandits, then played with frozen "
        f"weights on {TEST_BANDITS} new bandits (the same bandits for every method). Bands are "
        "95% intervals over bandits; the flat lines are the expected reward of a random arm and "
        "of the best arm.",
        numbers=figures.table(["method", f"total over {HORIZON} pulls", *map(str, pulls)], rows),
    )
)
print(
    f"Paired differences in total reward (95% CI): RL² − random {over_random.mean:+.2f} ± "
    f"{over_random.ci95:.2f}; RL² − Thompson {versus_thompson.mean:+.2f} ± "
    f"{versus_thompson.ci95:.2f}; oracle − RL² {below_oracle.mean:+.2f} ± {below_oracle.ci95:.2f}. "
    f"Training reward per pull: first {STEPS // 10} batches {sum(history[: STEPS // 10]) / (STEPS // 10):.3f}, "
    f"last {STEPS // 10} {sum(history[-(STEPS // 10) :]) / (STEPS // 10):.3f}."
)
