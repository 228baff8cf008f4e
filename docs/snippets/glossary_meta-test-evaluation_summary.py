# ruff: noqa: F821  (the names come from glossary_meta-test-evaluation_ci.py, run earlier in the
# same session)
from reference_impl.methods import METHODS

print(
    f"Seeds {best} and {worst}, picked as the best and worst on the first {half} episodes, differ "
    f"on the other {len(accs[0]) - half} by {100 * held_out.mean:+.2f} ± {100 * held_out.ci95:.2f} "
    f"points (paired), so the seed spread is not episode noise. On the same 600 episodes their "
    f"difference is {100 * paired.mean:+.2f} points with a paired interval of "
    f"±{100 * paired.ci95:.2f}, against ±{100 * unpaired:.2f} from combining the two unpaired "
    "intervals. The harness's default test-episode counts, from `reference_impl.methods`: "
    + ", ".join(f"{name} {row.test_episodes}" for name, row in METHODS.items())
    + "."
)
