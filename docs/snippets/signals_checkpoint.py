# The health report of the committed ProtoNet checkpoint (5-way 1-shot, maml split) with the
# committed transfer baseline, on all the test episodes of its published result file, as written
# by the command on its first line (computing it here would add many minutes to every build).
import json
from pathlib import Path

report = Path("benchmarks/results/health_report_protonet_5w1s_maml.txt").read_text(encoding="utf-8")
print(report.rstrip())
cell = json.loads(
    Path("benchmarks/results/omniglot/protonet_5w1s_maml.json").read_text(encoding="utf-8")
)
gain = next(line for line in report.splitlines() if line.startswith("adaptation gain"))
assert f"accuracy {cell['accuracy']:.4f} vs" in gain, (
    "the report no longer scores the published episodes"
)
assert f"· {cell['episodes']} episodes" in report.splitlines()[2], "the report uses other episodes"
