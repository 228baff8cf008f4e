"""Tests of the transfer baseline (`reference_impl/baseline.py`)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_impl.baseline import (
    BaselineConfig,
    build_model,
    cosine_head,
    evaluate,
    fit_logistic_head,
    main,
    make_predict,
    make_world,
    sample_points,
    sample_tasks,
    train,
    train_step,
)


def separable_features(
    seed: int, n_way: int, k_shot: int, dim: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Tight clusters around orthogonal directions: linearly separable with a wide margin."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.linalg.qr(torch.randn(dim, dim, generator=g, dtype=torch.float64))[0][:n_way]
    y = torch.arange(n_way).repeat_interleave(k_shot)
    x = centres[y] + 0.05 * torch.randn(n_way * k_shot, dim, generator=g, dtype=torch.float64)
    return x, y


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k_shot", [1, 5])
def test_fit_logistic_head_classifies_separable_support_perfectly(seed: int, k_shot: int) -> None:
    x, y = separable_features(seed, n_way=5, k_shot=k_shot, dim=16)
    weight, bias = fit_logistic_head(x, y, 5, BaselineConfig())
    logits = F.normalize(x, dim=-1) @ weight.T + bias
    assert torch.equal(logits.argmax(-1), y)


def test_fit_logistic_head_reaches_stationary_point_float64() -> None:
    """The returned (W, b) zero the gradient of the penalised objective (first-order optimality)."""
    x, y = separable_features(3, n_way=4, k_shot=3, dim=8)
    x = x + 0.5 * torch.randn(
        x.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    cfg = BaselineConfig(head_c=0.5)
    weight, bias = fit_logistic_head(x, y, 4, cfg)
    weight.requires_grad_(True)
    bias.requires_grad_(True)
    feats = F.normalize(x, dim=-1)
    loss = F.cross_entropy(feats @ weight.T + bias, y) + weight.pow(2).sum() / (
        2 * cfg.head_c * len(y)
    )
    grad_w, grad_b = torch.autograd.grad(loss, (weight, bias))
    # L-BFGS stops once the loss changes by < 1e-12 per step, which leaves gradients ~1e-7.
    assert grad_w.abs().max() < 1e-6 and grad_b.abs().max() < 1e-6
    # Bias unpenalised: the optimum's predicted class shares sum to the class counts.
    probs = torch.softmax(feats @ weight.T + bias, -1).detach()
    torch.testing.assert_close(
        probs.sum(0), torch.full((4,), 3.0, dtype=torch.float64), rtol=0, atol=1e-5
    )  # = n * grad_b


def cosine_head_loop(
    sf: torch.Tensor, sy: torch.Tensor, qf: torch.Tensor, n_way: int, scale: float
) -> torch.Tensor:
    """Obviously-correct version: explicit loops over classes and queries."""
    logits = torch.zeros(len(qf), n_way, dtype=sf.dtype)
    for k in range(n_way):
        members = [sf[i] for i in range(len(sy)) if int(sy[i]) == k]
        mean = sum(members) / len(members)
        for j in range(len(qf)):
            logits[j, k] = scale * torch.dot(qf[j], mean) / (qf[j].norm() * mean.norm())
    return logits


@pytest.mark.parametrize("seed", [0, 1])
def test_cosine_head_matches_explicit_loop_float64(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    sf = torch.randn(15, 7, generator=g, dtype=torch.float64)
    sy = torch.arange(5).repeat_interleave(3)[torch.randperm(15, generator=g)]
    qf = torch.randn(10, 7, generator=g, dtype=torch.float64)
    expected = cosine_head_loop(sf, sy, qf, 5, 10.0)
    torch.testing.assert_close(cosine_head(sf, sy, qf, 5, 10.0), expected, rtol=1e-10, atol=1e-12)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), scale=st.floats(0.1, 50.0))
def test_cosine_head_equivariant_to_label_permutation(seed: int, scale: float) -> None:
    g = torch.Generator().manual_seed(seed)
    sf = torch.randn(12, 6, generator=g, dtype=torch.float64)
    sy = torch.arange(4).repeat_interleave(3)
    qf = torch.randn(8, 6, generator=g, dtype=torch.float64)
    perm = torch.randperm(4, generator=g)
    order = torch.randperm(12, generator=g)
    logits = cosine_head(sf, sy, qf, 4, scale)
    permuted = cosine_head(
        sf[order], perm[sy][order], qf, 4, scale
    )  # relabel k -> perm[k], reorder
    torch.testing.assert_close(permuted[:, perm], logits, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("head", ["cosine", "logistic"])
def test_make_predict_conv4_float64_shape_and_weights_unchanged(head: str) -> None:
    torch.manual_seed(0)
    cfg = BaselineConfig(backbone="conv4", head=head, conv_channels=8, num_classes=10)
    model = build_model(cfg).double()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    g = torch.Generator().manual_seed(0)
    support_x = torch.rand(6, 1, 28, 28, generator=g, dtype=torch.float64)
    support_y = torch.arange(3).repeat_interleave(2)
    query_x = torch.rand(9, 1, 28, 28, generator=g, dtype=torch.float64)
    logits = make_predict(model, cfg)(support_x, support_y, query_x)
    assert logits.shape == (9, 3) and logits.dtype == torch.float64
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    if head == "cosine":  # by hand: scaled cosine of each query to each class's mean feature
        with torch.no_grad():
            feats = model.embed(torch.cat([support_x, query_x]))  # one batch, as documented
        means = [feats[:6][support_y == k].mean(0) for k in range(3)]
        expected = torch.tensor(
            [
                [cfg.cosine_scale * float(F.cosine_similarity(q, m, dim=0)) for m in means]
                for q in feats[6:]
            ],
            dtype=torch.float64,
        )
        torch.testing.assert_close(logits, expected, rtol=1e-10, atol=1e-12)


def test_make_predict_rejects_bad_input() -> None:
    cfg = BaselineConfig()
    predict = make_predict(build_model(cfg), cfg)
    x = torch.randn(6, cfg.x_dim)
    with pytest.raises(ValueError, match=r"support_y \(N\*K,\)"):
        predict(x, torch.zeros(5, dtype=torch.long), x)
    with pytest.raises(ValueError, match=r"query_x \(N\*Q"):
        predict(x, torch.arange(3).repeat_interleave(2), torch.randn(4, cfg.x_dim + 1))
    with pytest.raises(ValueError, match=r"cover 0\.\.N-1"):
        predict(x, torch.tensor([0, 0, 2, 2, 2, 2]), x)


def test_build_model_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="backbone must be"):
        build_model(BaselineConfig(backbone="resnet"))
    with pytest.raises(ValueError, match="head must be"):
        build_model(BaselineConfig(head="knn"))


def test_train_rejects_data_with_wrong_class_count() -> None:
    with pytest.raises(ValueError, match=r"num_classes=64"):
        train(BaselineConfig(), data=torch.zeros(10, 5, 32))


def test_train_on_class_tensor_lowers_loss() -> None:
    """`data=` path (as the Omniglot harness calls it): the last 10 steps' loss falls below a
    tenth of the first 10 steps'. Seeds 0-5 (data, weights and batches) gave ratios 0.040-0.046."""
    cfg = BaselineConfig(num_classes=20, train_steps=200)
    mixing, centres = make_world(cfg)
    data = sample_points(centres, 10, mixing, cfg, torch.Generator().manual_seed(0))  # (20, 10, 32)
    torch.manual_seed(0)
    _, losses = train(cfg, data=data)
    assert sum(losses[-10:]) / 10 < 0.1 * sum(losses[:10]) / 10


def test_sample_tasks_labels_class_major_and_shapes() -> None:
    cfg = BaselineConfig(n_way=3, k_shot=2, n_query=4)
    sx, sy, qx, qy = sample_tasks(cfg, make_world(cfg), 5, torch.Generator().manual_seed(0))
    assert sx.shape == (5, 6, 32) and qx.shape == (5, 12, 32)
    assert torch.equal(sy[0], torch.tensor([0, 0, 1, 1, 2, 2])) and torch.equal(
        qy[4], torch.arange(3).repeat_interleave(4)
    )


@pytest.mark.parametrize("seed", [0, 3])
def test_baseline_learns_features_that_transfer_to_unseen_classes(seed: int) -> None:
    """5-way 1-shot on classes never seen in pre-training, 100 episodes, cosine head.

    Seeds 0-5 tried: trained 0.869-0.898, untrained network 0.237-0.264 (chance 0.2). Thresholds
    0.75 and 0.40 leave margins of >= 0.11 on each side.
    """
    cfg = BaselineConfig(world_seed=seed, eval_tasks=100)
    torch.manual_seed(seed)
    model, _ = train(cfg, generator=torch.Generator().manual_seed(seed))
    trained = evaluate(model, cfg, generator=torch.Generator().manual_seed(100 + seed))["accuracy"]
    torch.manual_seed(seed)
    untrained_model, _ = train(dataclasses.replace(cfg, train_steps=0))
    untrained = evaluate(untrained_model, cfg, generator=torch.Generator().manual_seed(100 + seed))[
        "accuracy"
    ]
    assert trained >= 0.75
    assert untrained <= 0.40


def test_main_is_reproducible_from_the_config_seed() -> None:
    """`main` depends on `cfg.seed` only: twice the same numbers, those of `train` and `evaluate`
    run by hand from the same seed (pretrain loss: mean of the last 10 steps); another seed
    gives other weights."""
    cfg = BaselineConfig(train_steps=12, eval_tasks=3)
    metrics = main(cfg)
    assert main(cfg) == metrics
    torch.manual_seed(cfg.seed)
    model, losses = train(cfg)
    assert len(losses) == 12
    assert metrics == {"pretrain_loss": sum(losses[2:]) / 10, **evaluate(model, cfg)}
    assert main(dataclasses.replace(cfg, seed=1))["pretrain_loss"] != metrics["pretrain_loss"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"head_c": 0.0}, "head_c must be > 0"),
        ({"eval_tasks": 0}, "eval_tasks must be >= 1"),
        ({"n_way": 1}, "n_way must be >= 2"),
        ({"outer_lr": -1e-3}, "outer_lr and head_c must be > 0"),
        ({"head": "Cosine"}, "head must be 'cosine' or 'logistic'"),
    ],
)
def test_config_rejects_out_of_range_fields_by_name(fields: dict, message: str) -> None:
    """A value the algorithm cannot run with fails when the config is built, naming the field."""
    with pytest.raises(ValueError, match=message):
        BaselineConfig(**fields)


def test_train_step_refuses_a_non_finite_loss_and_leaves_the_weights() -> None:
    torch.manual_seed(0)
    cfg = BaselineConfig(num_classes=4)
    model = build_model(cfg)
    before = [p.detach().clone() for p in model.parameters()]
    x = torch.randn(8, cfg.x_dim)
    x[3, 0] = float("inf")
    with pytest.raises(ValueError, match="non-finite pre-training loss"):
        train_step(model, torch.optim.Adam(model.parameters()), (x, torch.arange(8) % 4), cfg)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_heads_reject_mismatched_features() -> None:
    """Labels are checked once, by `check_episode` in `predict`; the heads check shapes."""
    feats, y = separable_features(0, 3, 2, 8)
    query = feats[:4]
    with pytest.raises(ValueError, match=r"support_y \(N\*K,\)"):
        fit_logistic_head(feats, y[:-1], 3, BaselineConfig())
    with pytest.raises(ValueError, match=r"query_features \(N\*Q, 8\)"):
        cosine_head(feats, y, query[:, :5], 3, 10.0)
    assert cosine_head(feats, y, query, 3, 10.0).isfinite().all()
