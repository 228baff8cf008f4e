# ruff: noqa: F821  (torch and signals come from earlier blocks of the same page session)
# MAML's inner loop, traced step by step with maml.adapt itself, at two inner learning rates.
import dataclasses

from benchmarks.health import inner_loop_traces
from reference_impl import maml, methods

mcfg = maml.MAMLConfig(
    backbone="conv4", conv_channels=8, n_query=5, meta_batch_size=5, test_inner_steps=3
)
torch.manual_seed(0)
maml_model = maml.build_model(mcfg)  # meta-initialisation (untrained here)
sx, sy, qx, qy = maml.sample_synthetic_image_batch(mcfg, torch.Generator().manual_seed(0))
image_episodes = list(zip(sx, sy, qx, qy, strict=True))
for inner_lr in (0.4, 20.0):
    cfg_lr = dataclasses.replace(mcfg, inner_lr=inner_lr)
    traces = inner_loop_traces(methods.get("maml"), maml_model, cfg_lr, image_episodes)
    health = signals.inner_loop_health(traces)
    losses = " ".join(f"{v:.2f}" for v in health.mean_losses)
    print(
        f"inner_lr {inner_lr:>4}: support loss per step {losses}; "
        f"max |grad| {health.max_grad_norm:.2f}; loss rose on {health.share_loss_increased:.0%}, "
        f"non-finite on {health.share_nonfinite:.0%} of tasks"
    )
