# Synthetic classification data for several glossary pages (N-way K-shot, support set, query set,
# episodic training): 200 classes, 40 examples each, 16 features; a class is a Gaussian blob around
# its own centre. Episodes come from the project's sampler; the learner is a nearest-class-mean
# classifier, i.e. a Prototypical Network whose embedding is the identity (no training needed).
import torch

from reference_impl.episodes import sample_batch  # noqa: F401  (used by the including page)
from reference_impl.signals import mean_ci95  # noqa: F401  (used by the including page)

data_generator = torch.Generator().manual_seed(0)
centres = torch.randn(200, 1, 16, generator=data_generator)
data = centres + 1.0 * torch.randn(200, 40, 16, generator=data_generator)  # (classes, 40, 16)


def prototype_accuracy(episodes, n_way):
    """Per-episode accuracy (T,) of nearest-class-mean on a batch of episodes."""
    support_x, support_y, query_x, query_y = episodes
    one_hot = torch.nn.functional.one_hot(support_y, n_way).to(support_x.dtype)  # (T, N*K, N)
    prototypes = one_hot.transpose(1, 2) @ support_x / one_hot.sum(1).unsqueeze(-1)  # (T, N, D)
    predicted = torch.cdist(query_x, prototypes).argmin(-1)  # (T, N*Q)
    return (predicted == query_y).float().mean(-1)
