# Meta-train MAML and the "pretrained on all tasks" baseline on sine tasks, same budget and seed.
import torch

from reference_impl.maml import MAMLConfig, build_model, evaluate, pretrain, train

# Paper settings (K = 10, alpha = 0.01, 2x40 ReLU MLP) but only 150 meta-steps of 10 tasks, so
# the page builds in about a second; `python -m reference_impl.maml` runs 10,000 steps of 25.
cfg = MAMLConfig(
    train_steps=150,
    meta_batch_size=10,
    outer_lr=3e-3,
    test_inner_steps=10,
    eval_tasks=20,
    path="fast",
    fuse_query=True,
)
models = {}
for name, fit in (("MAML", train), ("pretrained", pretrain)):
    torch.manual_seed(0)
    models[name] = build_model(cfg)
    fit(models[name], cfg, torch.Generator().manual_seed(0))

print("query MSE on 20 held-out tasks, before -> after 10 inner steps (alpha = 0.01):")
for name, model in models.items():
    metrics = evaluate(model, cfg, torch.Generator().manual_seed(1))
    print(f"  {name:<10} {metrics['mse_before']:.2f} -> {metrics['mse_after']:.2f}")
