# Real Omniglot: 10 test characters of the MAML split, decoded straight from the official PNGs
# (no cache), and a learner with no training at all: nearest class mean on raw 28x28 pixels.
import torch

from reference_impl.evaluation import evaluate_predictor, fixed_episodes
from reference_impl.omniglot import decode_characters, get_split

characters = list(get_split("maml").test[:10])
images = 1 - decode_characters(characters).float().unsqueeze(2) / 255  # (10, 20, 1, 28, 28)


def pixel_prototypes(support_x, support_y, query_x):
    """Logits (N*Q, N): negative squared distance to each class's mean image."""
    n_way = int(support_y.max()) + 1
    prototypes = torch.stack([support_x[support_y == c].mean(0) for c in range(n_way)])
    return -(torch.cdist(query_x.flatten(1), prototypes.flatten(1)) ** 2)


for k_shot in (1, 5):  # 10 queries per class
    episodes = fixed_episodes(images, 5, k_shot, 10, 200, seed=0)
    result = evaluate_predictor(pixel_prototypes, episodes)
    print(
        f"5-way {k_shot}-shot, raw pixels: {result.accuracy:.1%} ± {result.ci95:.1%} (200 episodes)"
    )
