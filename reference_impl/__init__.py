r"""Reference implementations of meta-learning, small enough to read and tested against oracles.

The package has two kinds of module:

* **Algorithm files**, one algorithm each, importing only the standard library and `torch`, so a
  reader can copy one file and run it: `maml` (Model-Agnostic Meta-Learning, second and first
  order), `protonet` (Prototypical Networks), `fast_weights` (a learner that writes its support
  set into a fast weight matrix with a learned delta rule) and `baseline` (the transfer-learning
  comparator).
* **Shared infrastructure** that may import the algorithm files but never the reverse: Omniglot
  loading and splits, episode sampling, evaluation, checkpoints and deployment signals. The
  method table `methods` is the one place that lists the algorithm files; everything else finds
  a method there.

Every algorithm exposes a predictor with one signature,
`predict(support_x, support_y, query_x) -> logits` of shape `(N*Q, N)`, so that every method is
evaluated on the same episodes in the same way.
"""

__all__: list[str] = []
