# Parameter counts and per-episode adaptation work of each method's Omniglot 5-way 1-shot setup.
from reference_impl import baseline, fast_weights, maml, protonet
from reference_impl.omniglot import get_split

n_way, k_shot, n_query = 5, 1, 15
support, queries = n_way * k_shot, n_way * n_query
train_classes = 4 * len(get_split("maml").train)  # rotations are classes


def count(module) -> int:
    return sum(p.numel() for p in module.parameters())


mcfg = maml.omniglot_config(n_way, k_shot)
pcfg = protonet.ProtoNetConfig()
fcfg = fast_weights.FastWeightsConfig(backbone="conv4", n_way=n_way, k_shot=k_shot)
bcfg = baseline.BaselineConfig(backbone="conv4", num_classes=train_classes)
bnet = baseline.build_model(bcfg)
rows = [
    (
        "MAML",
        count(maml.build_model(mcfg)),
        f"{mcfg.test_inner_steps} x (forward + backward) on {support} images, forward on {queries}",
    ),
    ("ProtoNets", count(protonet.build_model(pcfg)), f"forward on {support + queries} images"),
    (
        "Fast weights",
        count(fast_weights.build_model(fcfg)),
        f"forward on {support + queries} images, {support * fcfg.write_passes} sequential writes",
    ),
    (
        "Transfer baseline",
        count(bnet.embed),
        f"forward on {support + queries} images (+ an L-BFGS fit for the logistic head)",
    ),
]
print("| Method | Parameters used at test time | Work per test episode |")
print("|---|---|---|")
for name, params, work in rows:
    print(f"| {name} | {params:,} | {work} |")
print(
    f"\nThe baseline's pre-training layer over {train_classes:,} classes adds "
    f"{count(bnet.classifier):,} parameters that exist only during training."
)
