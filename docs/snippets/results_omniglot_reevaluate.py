# Re-evaluate a committed checkpoint on test episodes of your own choosing. Here: 100 fresh
# 5-way 1-shot episodes (seed 1) for the published ProtoNet cell, whose number used seed 0.
import json
from pathlib import Path

from reference_impl.checkpoints import load_predictor
from reference_impl.evaluation import evaluate_predictor, fixed_episodes
from reference_impl.omniglot import load_omniglot

published = json.loads(Path("benchmarks/results/omniglot/protonet_5w1s_maml.json").read_text())
predict = load_predictor(published["checkpoint"])  # rebuilds the model from its description
test = load_omniglot(split="maml", part="test")  # (1692, 20, 1, 28, 28): 423 characters x 4 turns
mine = evaluate_predictor(predict, fixed_episodes(test, 5, 1, 15, 100, seed=1))

print(f"published:    {published['accuracy']:.2%} ± {published['ci95']:.2%}", end=" ")
print(f"({published['episodes']} episodes, seed {published['eval_seed']})")
print(f"re-evaluated: {mine.accuracy:.2%} ± {mine.ci95:.2%} ({mine.episodes} episodes, seed 1)")
