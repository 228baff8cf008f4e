# ruff: noqa: F821  (torch, signals, maml, mcfg, maml_model and image_episodes come from the
# inner-loop block of the same page session)
# Feature similarity across adaptation: linear CKA between the Conv-4's features (every layer
# but the head) under the meta-parameters and under the adapted parameters, per task.
import claims
from torch.func import functional_call

body = maml_model[:-1]
theta = {n: p.detach() for n, p in maml_model.named_parameters()}
body_names = {n for n, _ in body.named_parameters()}


def features(params: dict, x: torch.Tensor) -> torch.Tensor:
    return functional_call(body, {n: v for n, v in params.items() if n in body_names}, (x,))


similarity = {}
for inner_lr in (0.4, 20.0):
    cfg_lr = dataclasses.replace(mcfg, inner_lr=inner_lr)
    cka = []
    for sx, sy, qx, _ in image_episodes:
        adapted = {n: p.detach() for n, p in maml.adapt(maml_model, theta, sx, sy, cfg_lr).items()}
        drift = signals.embedding_drift(
            lambda x: features(theta, x), lambda x, a=adapted: features(a, x), torch.cat([sx, qx])
        )
        cka.append(drift.cka)
    similarity[inner_lr] = sum(cka) / len(cka)
    print(
        f"inner_lr {inner_lr:>4}: mean CKA of features before/after adaptation {similarity[inner_lr]:.3f}"
    )
drop = similarity[0.4] - similarity[20.0]
print(f"drop at the large step size: {drop:.3f} (worry above {signals.Thresholds().cka_drop_warn})")
claims.check(
    drop > signals.Thresholds().cka_drop_warn, "the far too large step rewrites the features"
)
