# ruff: noqa: F821  (torch, the data, protonet, pcfg, proto_model, embed and signals come from
# earlier blocks of the same page session)
# Embedding drift between two versions: the ProtoNet above, and a copy fine-tuned for 50 more
# episodes on the shifted domain (a new sensor), compared on fixed in-domain probe inputs.
import copy

import claims

from reference_impl.episodes import make_batch_sampler

tuned = copy.deepcopy(proto_model)
optimizer = torch.optim.Adam(tuned.parameters(), lr=pcfg.outer_lr)
tune_batches = make_batch_sampler(shifted_data, 20, 1, 5, 1)
tune_g = torch.Generator().manual_seed(5)
for _ in range(50):
    protonet.train_step(tuned, optimizer, tune_batches(tune_g), pcfg)
probe = test_data[:, :5].flatten(0, 1)  # 5 inputs of each of the 100 test classes
versions = {
    "same weights, copied": signals.embedding_drift(
        embed, lambda x: protonet.embed(proto_model, x, pcfg), probe
    ),
    "fine-tuned on the shift": signals.embedding_drift(
        embed, lambda x: protonet.embed(tuned, x, pcfg), probe
    ),
}
for name, d in versions.items():
    print(f"{name:<24} CKA {d.cka:.3f}, relative change of the features {d.relative_change:.3f}")
claims.check(versions["same weights, copied"].cka > 1 - 1e-9, "a copy has CKA one")
claims.check(
    versions["fine-tuned on the shift"].cka < signals.Thresholds().drift_cka_warn,
    "fine-tuning on the shifted domain drifts the features past the threshold",
)
