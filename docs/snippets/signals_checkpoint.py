# The health report of the committed ProtoNet checkpoint (5-way 1-shot, maml split) with the
# committed transfer baseline, as written by the command below (computing it here would add
# about a minute to every docs build).
from pathlib import Path

COMMAND = (
    "python -m reference_impl.signals "
    "benchmarks/results/omniglot/checkpoints/protonet_5w1s_maml.safetensors "
    "--baseline benchmarks/results/omniglot/checkpoints/baseline_5w1s_maml.safetensors "
    "> benchmarks/results/health_report_protonet_5w1s_maml.txt"
)
report = Path("benchmarks/results/health_report_protonet_5w1s_maml.txt")
if report.exists():
    print(f"$ {COMMAND}\n\n{report.read_text(encoding='utf-8').rstrip()}")
else:
    print(f"Not run yet: `{COMMAND}` writes it.")
