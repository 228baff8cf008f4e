"""Fixed episodes from real evaluation characters, scored by a pixel-space nearest prototype."""

import torch

from reference_impl.evaluation import evaluate_predictor, fixed_episodes
from reference_impl.omniglot import decode_characters, lake_split


def pixel_prototypes(support_x, support_y, query_x):
    """No learning: class means of raw pixels, negative squared distances as logits."""
    n_way = int(support_y.max()) + 1
    means = torch.stack([support_x[support_y == c].mean(0) for c in range(n_way)])  # (N, 1, 28, 28)
    return -(torch.cdist(query_x.flatten(1), means.flatten(1)) ** 2)  # (N*Q, N)


characters = lake_split().test[::22]  # 30 evaluation characters spread over the alphabets
try:
    grey = decode_characters(characters)  # (30, 20, 28, 28) uint8, dark strokes
except FileNotFoundError:
    print('!!! warning "Omniglot data not found"')
    print(
        "    This block evaluates on real characters; place the data at `../shared/data/omniglot`"
        " or set `OMNIGLOT_ROOT`."
    )
else:
    data = (1 - grey.float() / 255).unsqueeze(2)  # (30, 20, 1, 28, 28), strokes = 1
    print("| episodes | queries per class | accuracy | 95% CI (±) |")
    print("|---|---|---|---|")
    for episodes, n_query in [(100, 1), (100, 15), (600, 15)]:
        result = evaluate_predictor(
            pixel_prototypes, fixed_episodes(data, 5, 1, n_query, episodes, seed=0)
        )
        print(
            f"| {episodes} | {n_query} | {100 * result.accuracy:.1f}% | {100 * result.ci95:.1f} |"
        )
