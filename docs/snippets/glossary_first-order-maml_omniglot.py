# Exact and first-order MAML on Omniglot 5-way 1-shot (maml split), read from the committed
# result files with the reproduction page's loader (results_omniglot.py, included before this);
# same protocol, same test episodes.
# ruff: noqa: F821  (load_results and minutes come from results_omniglot.py)
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
if exact and first:
    gap = 100 * (exact["accuracy"] - first["accuracy"])
    both = 100 * (exact["ci95"] ** 2 + first["ci95"] ** 2) ** 0.5
    same = "the same number of" if exact["train_steps"] == first["train_steps"] else "different"
    speed = (
        exact["train_seconds"]
        / exact["train_steps"]
        / (first["train_seconds"] / first["train_steps"])
    )
    print(
        f"\nWith {same} updates, exact minus first order: {gap:+.2f} points "
        f"(± {both:.2f}: the two intervals combined as if independent, which overstates the "
        "uncertainty because both used the same test episodes; one training seed each). "
        f"A first-order update took {1 / speed:.2f} times as long as an exact one."
    )
