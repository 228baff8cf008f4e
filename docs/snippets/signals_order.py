# ruff: noqa: F821  (torch, the data, predict and signals come from earlier blocks of the page)
# Order sensitivity: a ProtoNet (a set function of the support set) against a fast-weight learner
# (writes its support set one example at a time), both on the running example, 5-shot episodes.
import claims

from reference_impl import fast_weights
from reference_impl.episodes import make_batch_sampler
from reference_impl.evaluation import fixed_episodes

fcfg = fast_weights.FastWeightsConfig(x_dim=32, train_steps=100)
fw_model, _ = fast_weights.train(fcfg, make_batch_sampler(train_data, 5, 1, 5, 16))
fw_predict = fast_weights.make_predict(fw_model, fcfg)
five_shot = fixed_episodes(test_data, 5, 5, 10, 30, seed=3)
order = {
    name: signals.order_sensitivity(p, five_shot)
    for name, p in (("ProtoNet", predict), ("fast weights", fw_predict))
}
for name, o in order.items():
    a = o.accuracy
    print(
        f"{name:<13}{o.share_changed:.1%} of predictions change; "
        f"accuracy permuted minus original {a.mean:+.3f} [{a.low:+.3f}, {a.high:+.3f}]"
    )
limit = signals.Thresholds().order_flip_warn
claims.check(order["ProtoNet"].share_changed == 0.0, "the ProtoNet changes nothing")
claims.check(
    order["fast weights"].share_changed > limit, "the fast-weight learner changes many answers"
)
