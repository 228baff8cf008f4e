# ruff: noqa: F821  (torch, test_data, embed and signals come from earlier blocks of the page)
# Support-set statistics on 5-shot episodes of the test classes, clean and with one label error
# planted in every episode (support example 0, of class 0, relabelled as class 1).
import claims

from reference_impl.evaluation import fixed_episodes

clean = list(fixed_episodes(test_data, 5, 5, 10, 100, seed=4))
noisy = []
for sx, sy, qx, qy in clean:
    sy = sy.clone()
    sy[0] = 1
    noisy.append((sx, sy, qx, qy))
stats = {
    "clean": signals.support_statistics(clean, embed),
    "one error each": signals.support_statistics(noisy, embed),
}
for name, s in stats.items():
    print(
        f"{name:<15}suspects {s.share_suspect:.1%} of support examples; repeated inputs in "
        f"{s.share_duplicated:.0%} of episodes; imbalanced {s.share_imbalanced:.0%}"
    )
found = sum((e, 0) in stats["one error each"].suspects for e in range(len(noisy)))
excess = stats["one error each"].share_suspect - stats["clean"].share_suspect
print(f"planted errors among the suspects: {found} of {len(noisy)}; excess {excess:+.1%}")
claims.check(excess > signals.Thresholds().suspect_excess_warn, "the planted errors stand out")
claims.check(
    stats["clean"].share_imbalanced == 0 < stats["one error each"].share_imbalanced,
    "a relabelled example also unbalances the shots",
)
