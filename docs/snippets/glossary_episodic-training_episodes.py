# Episodes from the project's sampler on a toy dataset of 12 classes x 6 examples, where each
# example's value encodes its class (10 * class + example), so the printout shows what was drawn.
import math

import torch

from reference_impl.episodes import sample_batch

toy = (10 * torch.arange(12).view(12, 1) + torch.arange(6)).float().view(12, 6, 1)
support_x, support_y, query_x, query_y = sample_batch(
    toy, 3, 2, 1, 2, torch.Generator().manual_seed(0)
)
for t in range(2):
    classes = (support_x[t, ::2, 0] // 10).int().tolist()
    print(
        f"episode {t}: classes {classes} get labels {support_y[t, ::2].tolist()}; "
        f"support {support_x[t, :, 0].int().tolist()}, query {query_x[t, :, 0].int().tolist()}"
    )
print(
    f"shapes: support_x {tuple(support_x.shape)}, support_y {tuple(support_y.shape)}, "
    f"query_x {tuple(query_x.shape)}, query_y {tuple(query_y.shape)}"
)
train_classes = 1100 * 4  # MAML split: 1100 training characters x 4 rotations
print(
    f"distinct 5-way class sets from {train_classes} classes: {math.comb(train_classes, 5):.2e}; "
    f"from 20 classes: {math.comb(20, 5)}"
)
