r"""A hypernetwork that writes a task's classifier head, and LEO's latent-space adaptation of it.

A *hypernetwork* (Ha et al. 2016, arXiv:1609.09106) is a network whose output is the weights of
another network. Here it reads an N-way support set and writes the linear head of the task's
classifier: for every class mean $c_n = \frac{1}{K}\sum_{y_i = n} x_i$ it generates a weight
vector and a bias,

$$w_n = A c_n + a, \qquad b_n = u^\top c_n + v\,\lVert c_n\rVert^2 + \beta, \qquad
\text{logit}_n(x) = w_n^\top x + b_n,$$

with $A, a, u, v, \beta$ meta-learned across episodes (a small generator; any network works).
At $A = 2I$, $v = -1$ and everything else zero, the logits are the prototype rule's
$-\lVert x - c_n\rVert^2$ up to a term that is the same for every class.

*LEO* (Rusu et al. 2019, "Meta-Learning with Latent Embedding Optimization", arXiv:1807.05960)
generates the head from a low-dimensional latent code per class, $z_n = E c_n$, $w_n = G z_n$,
and adapts a task by gradient steps on the support loss *in the latent space*,
$z \leftarrow z - \alpha \nabla_z \mathcal{L}_\mathcal{S}(G z)$, differentiating through those steps
in meta-training. LEO's encoder is a relation network over the support set and its latents are
stochastic; this copy keeps the two ideas the example tests, a generated head and adaptation in a
learned low-dimensional space, with a linear encoder and decoder.

Shapes: `T` episodes, `N` ways, `K` shots, `M` queries per episode, `D` features, `R` latent size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def class_means(support_x: Tensor, support_y: Tensor, n_way: int) -> Tensor:
    """Mean support input of every class: `(T, N*K, D)`, `(T, N*K)` to `(T, N, D)`."""
    one_hot = F.one_hot(support_y, n_way).to(support_x.dtype)  # (T, N*K, N)
    return one_hot.transpose(1, 2) @ support_x / one_hot.sum(1).unsqueeze(-1)


def prototype_logits(support_x: Tensor, support_y: Tensor, query_x: Tensor, n_way: int) -> Tensor:
    """Negative squared distance of every query to every class mean: `(T, M, N)`."""
    return -torch.cdist(query_x, class_means(support_x, support_y, n_way)).pow(2)


def head_logits(query_x: Tensor, weights: Tensor, bias: Tensor | None = None) -> Tensor:
    """Logits of a linear head per episode: `(T, M, D)` and `(T, N, D)` to `(T, M, N)`."""
    logits = query_x @ weights.transpose(1, 2)
    return logits if bias is None else logits + bias.unsqueeze(1)


# --8<-- [start:hypernetwork]
class HeadGenerator(nn.Module):
    """Hypernetwork: class means in, a linear head (weights and biases) out.

    Args:
        features: Input features `D`.
    """

    def __init__(self, features: int) -> None:
        super().__init__()
        self.weight_map = nn.Linear(features, features)  # c_n -> w_n
        self.bias_map = nn.Linear(features + 1, 1)  # (c_n, |c_n|^2) -> b_n

    def generate(self, support_x: Tensor, support_y: Tensor, n_way: int) -> tuple[Tensor, Tensor]:
        """The task's head: weights `(T, N, D)` and biases `(T, N)`."""
        means = class_means(support_x, support_y, n_way)  # (T, N, D)
        with_norm = torch.cat([means, means.pow(2).sum(-1, keepdim=True)], -1)  # (T, N, D + 1)
        return self.weight_map(means), self.bias_map(with_norm).squeeze(-1)

    def forward(self, support_x: Tensor, support_y: Tensor, query_x: Tensor, n_way: int) -> Tensor:
        """Query logits under the generated head, `(T, M, N)`."""
        return head_logits(query_x, *self.generate(support_x, support_y, n_way))


# --8<-- [end:hypernetwork]
# --8<-- [start:leo]
class LatentHeads(nn.Module):
    """LEO-style head: encode class means to latents, decode latents to weights, adapt latents.

    Args:
        features: Input features `D`.
        latent: Latent size `R` per class.
        inner_steps: Latent gradient steps used in meta-training.
        inner_lr: Their step size.
    """

    def __init__(self, features: int, latent: int, inner_steps: int, inner_lr: float) -> None:
        super().__init__()
        self.encoder = nn.Linear(features, latent)
        self.decoder = nn.Linear(latent, features)
        self.inner_steps, self.inner_lr = inner_steps, inner_lr

    def adapt(
        self, support_x: Tensor, support_y: Tensor, n_way: int, steps: int, lr: float,
        create_graph: bool, start: Tensor | None = None,
    ) -> Tensor:  # fmt: skip
        r"""Latents after `steps` gradient steps on the support loss, shape `(T, N, R)`.

        $z \leftarrow z - \alpha\,\nabla_z \mathcal{L}_\mathcal{S}$ with $\mathcal{L}_\mathcal{S}$
        the cross-entropy of the support set under the decoded head, summed over episodes (so
        the step of each episode does not depend on how many episodes share the batch).

        Args:
            support_x: Support inputs, shape `(T, N*K, D)`.
            support_y: Support labels, shape `(T, N*K)`.
            n_way: Classes per episode `N`.
            steps: Gradient steps.
            lr: Step size $\alpha$.
            create_graph: Keep the graph of the steps (meta-training) or not (evaluation).
            start: Latents to start from (default: the encoded class means).
        """
        if start is None:
            start = self.encoder(class_means(support_x, support_y, n_way))  # (T, N, R)
        latents = start
        if not create_graph:
            latents = latents.detach().requires_grad_(True)
        for _ in range(steps):
            logits = head_logits(support_x, self.decoder(latents))  # (T, N*K, N)
            loss = F.cross_entropy(logits.flatten(0, 1), support_y.flatten(), reduction="sum")
            loss = loss / support_y.shape[1]
            (grad,) = torch.autograd.grad(loss, latents, create_graph=create_graph)
            latents = latents - lr * grad
            if not create_graph:
                latents = latents.detach().requires_grad_(True)
        return latents

    def forward(
        self, support_x: Tensor, support_y: Tensor, query_x: Tensor, n_way: int,
        steps: int | None = None, lr: float | None = None,
    ) -> Tensor:  # fmt: skip
        """Query logits after latent adaptation (the meta-training setting by default), `(T, M, N)`."""
        steps = self.inner_steps if steps is None else steps
        lr = self.inner_lr if lr is None else lr
        latents = self.adapt(support_x, support_y, n_way, steps, lr, create_graph=self.training)
        return head_logits(query_x, self.decoder(latents))


def adapt_weights(
    weights: Tensor, support_x: Tensor, support_y: Tensor, steps: int, lr: float
) -> Tensor:
    """The alternative LEO argues against: the same gradient steps on the head's weights directly.

    Returns:
        Adapted weights, shape `(T, N, D)` (no graph kept).
    """
    weights = weights.detach().requires_grad_(True)
    for _ in range(steps):
        logits = head_logits(support_x, weights)
        loss = F.cross_entropy(logits.flatten(0, 1), support_y.flatten(), reduction="sum")
        (grad,) = torch.autograd.grad(loss / support_y.shape[1], weights)
        weights = (weights - lr * grad).detach().requires_grad_(True)
    return weights.detach()


# --8<-- [end:leo]
def nuisance_classes(
    n_classes: int, per_class: int, features: int, signal: int, generator: torch.Generator
) -> Tensor:
    """Classes that differ only inside a `signal`-dimensional subspace, with large noise outside.

    Class centres are `1.5 * N(0, I)` inside a random `signal`-dimensional subspace; every example
    adds noise of standard deviation 0.6 inside it and 2.0 in the other directions, so raw-feature
    distances are dominated by directions that carry no class information.

    Returns:
        Data of shape `(n_classes, per_class, D)` for `reference_impl.episodes.sample_batch`.
    """
    basis = torch.linalg.qr(torch.randn(features, features, generator=generator))[0]
    inside, outside = basis[:, :signal], basis[:, signal:]  # (D, R), (D, D - R)
    centres = 1.5 * torch.randn(n_classes, 1, signal, generator=generator) @ inside.T
    noise_in = 0.6 * torch.randn(n_classes, per_class, signal, generator=generator) @ inside.T
    shape = (n_classes, per_class, features - signal)
    noise_out = 2.0 * torch.randn(shape, generator=generator) @ outside.T
    return centres + noise_in + noise_out
