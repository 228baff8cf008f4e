# The running example: a synthetic domain (reference_impl/baseline.py's data section),
# 64 meta-training classes, and unseen classes for validation and test.
import torch

from reference_impl import baseline

cfg = baseline.BaselineConfig()  # 32-d inputs, class identity in 8 of them
mixing, centres = baseline.make_world(cfg)
g = torch.Generator().manual_seed(0)


def new_classes(count: int, mix: torch.Tensor) -> torch.Tensor:
    """`count` classes never seen in training, 20 examples each, seen through `mix`."""
    fresh = torch.randn(count, cfg.latent_dim, generator=g)
    return baseline.sample_points(fresh, 20, mix, cfg, g)


train_data = baseline.sample_points(centres, 20, mixing, cfg, g)  # (64, 20, 32)
val_data = new_classes(32, mixing)  # in-domain, unseen: calibrates the task-shift score
test_data = new_classes(100, mixing)  # in-domain, unseen: the test classes
other_mixing, _ = baseline.make_world(baseline.BaselineConfig(world_seed=1))
shifted_data = new_classes(100, other_mixing)  # the same kind of classes, a different "sensor"

torch.manual_seed(0)
baseline_model, _ = baseline.train(cfg, data=train_data)  # 300 steps of plain classification
baseline_predict = baseline.make_predict(baseline_model, cfg)
print(
    f"train {tuple(train_data.shape)}, val {tuple(val_data.shape)}, test {tuple(test_data.shape)}"
)
