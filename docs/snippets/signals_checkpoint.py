# The health report of the committed ProtoNet checkpoint (5-way 1-shot, maml split) on Omniglot
# test tasks, with the committed transfer baseline for the margin when its checkpoint exists.
from pathlib import Path

from reference_impl import omniglot, signals

checkpoints = Path("benchmarks/results/omniglot/checkpoints")
model = checkpoints / "protonet_5w1s_maml.safetensors"
baseline = checkpoints / "baseline_5w1s_maml.safetensors"
if not (omniglot.default_root() / "images_evaluation").is_dir():
    print(f"(skipped: no Omniglot data under {omniglot.default_root()}; set OMNIGLOT_ROOT)")
elif not model.exists():
    print(f"(skipped: {model} is not committed yet)")
else:
    print(
        signals.checkpoint_report(
            model, baseline=baseline if baseline.exists() else None, episodes=100
        )
    )
