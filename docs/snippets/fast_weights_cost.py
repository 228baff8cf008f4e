"""Count FLOPs and parameters of one Omniglot-sized 5-way 1-shot episode for three learners.

All three use the same Conv-4 on 28x28 inputs, so the counts differ only by how each adapts:
fast weights write the support set (no gradients), ProtoNets average support embeddings, MAML
takes gradient steps on the support set (3 at test, 1 in training, as in MAML's Appendix A.1).
The ProtoNet and MAML functions here are counting fragments, not the site's implementations.
Tensors live on PyTorch's `meta` device: shapes propagate and FLOPs are counted, nothing is
computed, so the counts are exact and take milliseconds.
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call
from torch.utils.flop_counter import FlopCounterMode

from reference_impl.fast_weights import FastWeightsConfig, build_model, episode_logits

n_way, k_shot, n_query = 5, 1, 15
torch.manual_seed(0)
cfg = FastWeightsConfig(backbone="conv4")
learner = build_model(cfg).to("meta")
encoder = learner.encoder  # the same Conv-4 for all three learners
head = nn.Linear(64, n_way, device="meta")  # MAML's output layer
maml_params = {
    **{f"0.{k}": v for k, v in encoder.named_parameters()},
    **{f"1.{k}": v for k, v in head.named_parameters()},
}
maml_net = nn.Sequential(encoder, head)
support_x = torch.empty(n_way * k_shot, 1, 28, 28, device="meta")
query_x = torch.empty(n_way * n_query, 1, 28, 28, device="meta")
support_y = torch.arange(n_way).repeat_interleave(k_shot)
query_y = torch.arange(n_way).repeat_interleave(n_query)
query_y_meta = query_y.to("meta")


def fast_weights_loss() -> torch.Tensor:
    logits = episode_logits(learner, support_x[None], support_y[None], query_x[None], n_way, cfg)
    return F.cross_entropy(logits[0], query_y_meta)


def gflops(fn) -> float:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9


def protonet_loss() -> torch.Tensor:
    z = encoder(torch.cat([support_x, query_x]))  # (N*K + N*Q, 64)
    prototypes = F.one_hot(support_y, n_way).T.to(z) @ z[: len(support_x)] / k_shot  # (N, 64)
    return F.cross_entropy(-(torch.cdist(z[len(support_x) :], prototypes) ** 2), query_y_meta)


def maml_loss(steps: int, create_graph: bool) -> torch.Tensor:
    params = dict(maml_params)
    for _ in range(steps):  # inner loop: gradient steps on the support set
        inner = F.cross_entropy(
            functional_call(maml_net, params, (support_x,)), support_y.to("meta")
        )
        grads = torch.autograd.grad(inner, list(params.values()), create_graph=create_graph)
        params = {k: p - 0.4 * g for (k, p), g in zip(params.items(), grads, strict=True)}
    return F.cross_entropy(functional_call(maml_net, params, (query_x,)), query_y_meta)


def count(module) -> int:
    return sum(p.numel() for p in module.parameters())


rows = [
    (
        "Fast weights (delta rule)",
        gflops(fast_weights_loss),
        gflops(lambda: fast_weights_loss().backward()),
        "0",
        count(learner),
    ),
    (
        "ProtoNets",
        gflops(protonet_loss),
        gflops(lambda: protonet_loss().backward()),
        "0",
        count(encoder),
    ),
    (
        "MAML (3 test steps, 1 training step)",
        gflops(lambda: maml_loss(3, create_graph=False)),
        gflops(lambda: maml_loss(1, create_graph=True).backward()),
        "3",
        count(maml_net),
    ),
]
print(
    "| Learner | Adapt + classify (GFLOP) | Meta-training episode (GFLOP) | "
    "Gradient steps to adapt | Slow parameters |"
)
print("|---|---|---|---|---|")
for name, test, train, steps, params in rows:
    print(f"| {name} | {test:.3f} | {train:.3f} | {steps} | {params:,} |")
writes = n_way * k_shot * cfg.write_passes
per_write = 4 * n_way * cfg.key_dim  # retrieve W k and add an outer product
print(
    f"\nThe {writes} writes of this episode cost {writes * per_write:,} FLOPs in all "
    f"({per_write} each), next to {gflops(lambda: encoder(support_x[:1])) * 1e3:.1f} MFLOP "
    "for the Conv-4 forward pass of one image."
)

# The sentences under this table, checked against it.
import claims  # noqa: E402

(_, fw_test, fw_train, _, _), (_, pn_test, pn_train, _, _), (_, maml_test, maml_train, _, _) = rows
claims.check(abs(fw_test / pn_test - 1) < 0.05 and abs(fw_train / pn_train - 1) < 0.05,
             "fast weights cost what ProtoNets cost")  # fmt: skip
claims.check(writes * per_write < 0.01 * gflops(lambda: encoder(support_x[:1])) * 1e9,
             "the writes are a rounding error next to one Conv-4 forward pass")  # fmt: skip
claims.check(
    pn_test < maml_test < 3 * pn_test, "on a 1-shot episode MAML's extra work is small in FLOPs"
)
