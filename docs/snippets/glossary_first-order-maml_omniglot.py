# Exact and first-order MAML on Omniglot 5-way 1-shot (maml split), read from the committed
# result files with the reproduction page's loader (results_omniglot.py, included before this);
# same protocol, same test episodes.
# ruff: noqa: F821  (load_results, minutes and pair come from results_omniglot.py)
import claims

results = load_results()
runs = {
    "MAML (exact)": results.get(("maml", "5w1s", "maml")),
    "First-order MAML": results.get(("fomaml", "5w1s", "maml")),
}

print("| Method | Test accuracy (600 episodes) | Training updates | Training time | s / update |")
print("|---|---|---|---|---|")
for label, r in runs.items():
    if r is None:
        print(f"| {label} | not run yet | – | – | – |")
        continue
    pace = r["train_seconds"] / r["train_steps"]
    print(
        f"| {label} | {100 * r['accuracy']:.2f} ± {100 * r['ci95']:.2f} | {r['train_steps']} "
        f"| {minutes(r['train_seconds'])} | {pace:.2f} |"
    )

exact, first = runs.values()
claims.check(exact is not None and first is not None, "both Omniglot runs are on the page")
paired = pair(exact, first)  # (Interval in points, episodes), or why the files cannot be paired
if isinstance(paired, tuple):
    gap = claims.Interval(paired[0].mean / 100, paired[0].ci95 / 100)
    how = f"paired over the same {paired[1]} test episodes"
else:  # conservative: the episodes are shared, so the paired interval would usually be narrower
    gap = claims.difference(
        claims.Interval(exact["accuracy"], exact["ci95"]),
        claims.Interval(first["accuracy"], first["ci95"]),
    )
    how = f"the two intervals combined as if independent ({paired})"
same = "the same number of" if exact["train_steps"] == first["train_steps"] else "different"
claims.check(same != "different", "the first-order run was given the exact run's updates")
claims.above(gap, 0, "dropping the second-order term cost accuracy at an equal number of updates")
speed = (
    exact["train_seconds"] / exact["train_steps"] / (first["train_seconds"] / first["train_steps"])
)
claims.check(speed > 1, "dropping the second-order term saved time per update")
print(
    f"\nWith {same} updates, exact minus first order: {100 * gap.mean:+.2f} ± {100 * gap.ci95:.2f} "
    f"points ({how}; one training seed each). "
    f"A first-order update took {1 / speed:.2f} times as long as an exact one."
)
