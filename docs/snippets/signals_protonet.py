# ruff: noqa: F821  (torch, the data and the baseline come from signals_setup.py, run before
# this file in the same page session)
from reference_impl import protonet
from reference_impl.episodes import make_batch_sampler
from reference_impl.evaluation import fixed_episodes

# Meta-train a ProtoNet (MLP embedding) on episodes of the same 64 classes.
pcfg = protonet.ProtoNetConfig(
    backbone="mlp", x_dim=32, n_way=20, k_shot=1, n_query=5, train_steps=200, lr_halve_every=200
)
proto_model, _ = protonet.train(pcfg, make_batch_sampler(train_data, 20, 1, 5, 1))
predict = protonet.make_predict(proto_model, pcfg)


def embed(x: torch.Tensor) -> torch.Tensor:
    return protonet.embed(proto_model, x, pcfg)


# Every signal below uses these fixed, seeded 5-way 1-shot episodes (15 queries per class).
test_episodes = fixed_episodes(test_data, 5, 1, 15, 100, seed=1)
train_episodes = fixed_episodes(train_data, 5, 1, 15, 100, seed=2)
shifted_episodes = fixed_episodes(shifted_data, 5, 1, 15, 100, seed=1)
print(f"{len(test_episodes)} test episodes, {len(train_episodes)} episodes of training classes")
