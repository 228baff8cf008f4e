"""Tests for `reference_impl.protonet`: closed forms, an independent loop, properties, learning."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from reference_impl.protonet import (
    ProtoNetConfig,
    build_model,
    check_episode,
    episode_logits,
    episode_loss,
    evaluate,
    learning_rate,
    main,
    make_predict,
    make_sampler,
    prototype_logits,
    prototypes,
    train,
    train_step,
)

MLP = ProtoNetConfig.synthetic()
SMALL_CONV = replace(ProtoNetConfig(), conv_channels=8)


def classes(support_y: Tensor) -> int:
    """N of an episode whose labels are known to cover 0..N-1."""
    return int(support_y.max()) + 1


def mlp64(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_model(MLP).double()


def episode64(
    n_way: int = 4, k_shot: int = 3, n_query: int = 2, seed: int = 0
) -> tuple[Tensor, ...]:
    sample = make_sampler(
        replace(MLP, k_shot=k_shot), n_way=n_way, n_query=n_query, meta_batch_size=1
    )
    return tuple(
        t[0].double() if t.is_floating_point() else t[0]
        for t in sample(torch.Generator().manual_seed(seed))
    )


# --- closed forms, float64 -------------------------------------------------------------------


def test_prototypes_equal_per_class_means():
    z = torch.randn(11, 5, dtype=torch.float64)
    y = torch.tensor([2, 0, 1, 1, 0, 2, 2, 1, 0, 2, 1])  # unordered, unequal class sizes
    expected = torch.stack([z[y == k].mean(dim=0) for k in range(3)])
    torch.testing.assert_close(prototypes(z, y, 3), expected, rtol=1e-12, atol=1e-14)


def test_prototype_logits_sqeuclidean_is_linear_layer_up_to_query_constant():
    """Section "Reinterpretation as a Linear Model": -|z - c_k|^2 = 2 c_k.z - |c_k|^2 - |z|^2."""
    z, c = torch.randn(9, 6, dtype=torch.float64), torch.randn(4, 6, dtype=torch.float64)
    linear = z @ (2 * c).T - (c**2).sum(dim=1)  # weights 2 c_k, bias -|c_k|^2
    logits = prototype_logits(z, c, "sqeuclidean")
    shift = logits - linear  # must be -|z|^2, the same for every class
    torch.testing.assert_close(
        shift, -(z**2).sum(dim=1, keepdim=True).expand(9, 4), rtol=1e-10, atol=1e-12
    )
    torch.testing.assert_close(logits.softmax(-1), linear.softmax(-1), rtol=1e-10, atol=1e-12)


def test_prototype_logits_gradients_match_finite_differences():
    z = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    c = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
    for distance in ("sqeuclidean", "cosine"):
        assert torch.autograd.gradcheck(lambda a, b, d=distance: prototype_logits(a, b, d), (z, c))


def test_learning_rate_halves_every_2000_episodes():
    cfg = ProtoNetConfig()
    rates = [learning_rate(cfg, e) for e in (0, 1999, 2000, 3999, 4000)]
    assert rates == [1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4]


# --- independent loop implementation -----------------------------------------------------------


def loop_logits_and_loss(z_support, support_y, z_query, query_y, distance):
    n_way = int(support_y.max()) + 1
    protos = []
    for k in range(n_way):
        members = [z_support[i] for i in range(len(support_y)) if support_y[i] == k]
        protos.append(sum(members) / len(members))
    logits = torch.empty(len(z_query), n_way, dtype=z_query.dtype)
    for i in range(len(z_query)):
        for k in range(n_way):
            if distance == "sqeuclidean":
                logits[i, k] = -sum(
                    (z_query[i, j] - protos[k][j]) ** 2 for j in range(z_query.shape[1])
                )
            else:
                logits[i, k] = torch.dot(z_query[i], protos[k]) / (
                    z_query[i].norm() * protos[k].norm()
                )
    loss = 0.0
    for i in range(len(z_query)):
        log_norm = math.log(sum(math.exp(logits[i, k].item()) for k in range(n_way)))
        loss += (log_norm - logits[i, query_y[i]].item()) / len(z_query)
    return logits, loss


@pytest.mark.parametrize("distance", ["sqeuclidean", "cosine"])
def test_episode_logits_and_loss_match_double_loop(distance):
    support_x, support_y, query_x, query_y = episode64()
    model = mlp64()
    cfg = replace(MLP, distance=distance)
    logits = episode_logits(model, support_x, support_y, query_x, classes(support_y), cfg)
    with torch.no_grad():
        z = model(torch.cat([support_x, query_x]))
        expected, expected_loss = loop_logits_and_loss(
            z[: len(support_x)], support_y, z[len(support_x) :], query_y, distance
        )
    torch.testing.assert_close(logits.detach(), expected, rtol=1e-10, atol=1e-12)
    assert episode_loss(logits, query_y).item() == pytest.approx(expected_loss, rel=1e-10)


def test_train_step_gradient_is_mean_of_episode_gradients():
    """A meta-batch of T=2 episodes steps along the mean of the two episodes' gradients (SGD, lr 1)."""
    episodes = [episode64(seed=s) for s in (1, 2)]
    sx, sy, qx, qy = (torch.stack([e[i] for e in episodes]) for i in range(4))
    batch = (sx, sy, qx, qy)
    model, reference = mlp64(), mlp64()
    before = [p.detach().clone() for p in model.parameters()]
    train_step(model, torch.optim.SGD(model.parameters(), lr=1.0), batch, MLP)
    grads = [torch.zeros_like(p) for p in reference.parameters()]
    for support_x, support_y, query_x, query_y in episodes:
        loss = episode_loss(
            episode_logits(reference, support_x, support_y, query_x, classes(support_y), MLP),
            query_y,
        )
        for g, gi in zip(
            grads, torch.autograd.grad(loss, list(reference.parameters())), strict=True
        ):
            g += gi / 2
    for p, p0, g in zip(model.parameters(), before, grads, strict=True):
        torch.testing.assert_close(p.detach(), p0 - g, rtol=1e-10, atol=1e-12)


# --- properties --------------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), n_way=st.integers(2, 5), k_shot=st.integers(1, 4))
def test_episode_logits_invariant_to_support_order(seed, n_way, k_shot):
    support_x, support_y, query_x, _ = episode64(n_way, k_shot, seed=seed)
    perm = torch.randperm(len(support_y), generator=torch.Generator().manual_seed(seed))
    model = mlp64(seed)
    a = episode_logits(model, support_x, support_y, query_x, classes(support_y), MLP)
    b = episode_logits(
        model, support_x[perm], support_y[perm], query_x, classes(support_y[perm]), MLP
    )
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n_way=st.integers(2, 5),
    distance=st.sampled_from(["sqeuclidean", "cosine"]),
)
def test_episode_logits_equivariant_to_label_permutation(seed, n_way, distance):
    support_x, support_y, query_x, _ = episode64(n_way, seed=seed)
    relabel = torch.randperm(
        n_way, generator=torch.Generator().manual_seed(seed)
    )  # class k -> relabel[k]
    cfg, model = replace(MLP, distance=distance), mlp64(seed)
    a = episode_logits(model, support_x, support_y, query_x, classes(support_y), cfg)
    b = episode_logits(
        model, support_x, relabel[support_y], query_x, classes(relabel[support_y]), cfg
    )
    torch.testing.assert_close(b[:, relabel], a, rtol=1e-10, atol=1e-10)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n_way=st.integers(2, 8),
    distance=st.sampled_from(["sqeuclidean", "cosine"]),
)
def test_query_equal_to_prototype_is_classified_as_its_class(seed, n_way, distance):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n_way * 3, 4, generator=g, dtype=torch.float64)
    y = torch.arange(n_way).repeat_interleave(3)
    protos = prototypes(z, y, n_way)
    assert prototype_logits(protos, protos, distance).argmax(dim=-1).tolist() == list(range(n_way))


# --- the Conv-4 embedding and the fast path ------------------------------------------------------


def test_conv4_maps_28x28_to_64_dims_with_batch_statistics_only():
    model = build_model(ProtoNetConfig())
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 64)
    assert not any("running" in key for key in model.state_dict())  # transductive batch norm


def test_episode_logits_embed_support_and_query_as_one_batch():
    """Batch norm sees support and query together (the authors' code); separately would differ."""
    support_x, query_x = torch.rand(6, 1, 28, 28).double(), torch.rand(4, 1, 28, 28).double()
    support_y = torch.arange(3).repeat_interleave(2)
    torch.manual_seed(0)
    model = build_model(SMALL_CONV).double()
    logits = episode_logits(model, support_x, support_y, query_x, classes(support_y), SMALL_CONV)
    z = model(torch.cat([support_x, query_x]))
    joint = prototype_logits(z[6:], prototypes(z[:6], support_y, 3))
    separate = prototype_logits(model(query_x), prototypes(model(support_x), support_y, 3))
    torch.testing.assert_close(logits, joint, rtol=1e-10, atol=1e-10)
    assert (logits - separate).abs().max() > 1e-3


def test_fast_path_matches_exact_logits_and_gradients():
    """Pool-before-ReLU and channels_last change no value; float64 so rounding stays far below rtol."""
    support_x, query_x = torch.rand(6, 1, 28, 28).double(), torch.rand(9, 1, 28, 28).double()
    support_y = torch.arange(3).repeat_interleave(2)
    torch.manual_seed(0)
    exact = build_model(SMALL_CONV).double()
    fast = build_model(replace(SMALL_CONV, fast=True)).double()
    fast.load_state_dict(exact.state_dict())
    outputs = []
    for model, cfg in ((exact, SMALL_CONV), (fast, replace(SMALL_CONV, fast=True))):
        logits = episode_logits(model, support_x, support_y, query_x, classes(support_y), cfg)
        outputs.append(
            (logits, torch.autograd.grad(logits.logsumexp(-1).sum(), list(model.parameters())))
        )
    torch.testing.assert_close(outputs[1][0], outputs[0][0], rtol=1e-10, atol=1e-10)
    for g_fast, g_exact in zip(outputs[1][1], outputs[0][1], strict=True):
        torch.testing.assert_close(g_fast, g_exact, rtol=1e-10, atol=1e-10)


def test_predict_leaves_weights_unchanged_and_matches_episode_logits():
    support_x, support_y, query_x, _ = episode64()
    model = mlp64()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    logits = make_predict(model, MLP)(support_x, support_y, query_x)
    assert logits.shape == (len(query_x), int(support_y.max()) + 1) and not logits.requires_grad
    torch.testing.assert_close(
        logits, episode_logits(model, support_x, support_y, query_x, classes(support_y), MLP)
    )
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_train_resumed_from_checkpointed_state_equals_uninterrupted_run():
    cfg = replace(MLP, train_steps=6)
    _, full = train(cfg)
    model, first = train(replace(cfg, train_steps=3))
    # resume: same weights, optimizer state and generator state as after episode 3
    torch.manual_seed(cfg.seed)
    model = build_model(cfg)
    optimizer = torch.optim.Adam(model.parameters())
    generator = torch.Generator().manual_seed(cfg.seed)
    _, part_a = train(
        replace(cfg, train_steps=3), model=model, optimizer=optimizer, generator=generator
    )
    _, part_b = train(cfg, model=model, optimizer=optimizer, generator=generator, start_episode=3)
    assert part_a + part_b == full and first == part_a


# --- learning ----------------------------------------------------------------------------------


def test_main_reaches_90_percent_5_way_on_unseen_classes():
    """Seeds 0-4 of the synthetic preset reach 5-way accuracies 0.991-0.994 on held-out classes.

    Nearest prototype on the raw inputs reaches 0.637-0.650 and the last-tenth training loss is
    0.055-0.082 against 2.27-2.40 at the start. The thresholds (accuracy >= 0.9, >= 0.2 above raw,
    loss below a quarter of its start) leave margins of about 0.09, 0.14 and 7x.
    """
    metrics = main(replace(MLP, seed=0))
    assert metrics["accuracy"] >= 0.9
    assert metrics["accuracy"] - metrics["raw_accuracy"] >= 0.2
    assert metrics["last_loss"] < 0.25 * metrics["first_loss"]


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("support_y", "query_rows", "x_shape", "match"),
    [
        (torch.tensor([0, 0, 2, 2]), 3, (16,), "cover 0..N-1"),  # class 1 missing
        (torch.tensor([1, 1, 2, 2]), 3, (16,), "cover 0..N-1"),  # class 0 missing
        (torch.tensor([0, 0, 1]), 3, (16,), r"support_y \(N\*K,\)"),  # wrong length
        (torch.tensor([0.0, 0.0, 1.0, 1.0]), 3, (16,), "int64 support_y"),
        (torch.tensor([0, 0, 1, 1]), 0, (16,), "Q >= 1"),
        (torch.tensor([0, 0, 1, 1]), 3, (15,), r"query_x \(N\*Q, 16\).*got .*query_x \(3, 15\)"),
    ],
)
def test_episode_logits_rejects_bad_episodes(support_y, query_rows, x_shape, match):
    with pytest.raises(ValueError, match=match):
        make_predict(mlp64(), MLP)(
            torch.randn(4, 16).double(), support_y, torch.randn(query_rows, *x_shape).double()
        )


def test_episode_logits_rejects_empty_support_set():
    with pytest.raises(ValueError, match=r"K and Q >= 1.*; got support_x \(0, 16\)"):
        make_predict(mlp64(), MLP)(
            torch.randn(0, 16).double(),
            torch.zeros(0, dtype=torch.long),
            torch.randn(3, 16).double(),
        )


def test_check_episode_returns_n_and_rejects_labels_that_do_not_cover_0_to_n_minus_1():
    x = torch.randn(4, 3)
    assert check_episode(x, torch.tensor([1, 0, 1, 0]), x) == 2
    batch = torch.stack([torch.tensor([0, 1, 2, 2]), torch.tensor([2, 1, 0, 0])])  # (T=2, N*K)
    assert check_episode(x.expand(2, 4, 3), batch, x.expand(2, 4, 3), batch) == 3
    with pytest.raises(
        ValueError,
        match=r"N = largest support label \+ 1 = 3\); got support labels 0\.\.2 \(2 distinct",
    ):
        check_episode(x, torch.tensor([0, 0, 2, 2]), x)  # class 1 has no support example
    with pytest.raises(ValueError, match="in every episode"):  # the second episode is 2-way
        check_episode(x.expand(2, 4, 3), torch.stack([batch[0], batch[0] % 2]), x.expand(2, 4, 3))
    with pytest.raises(ValueError, match=r"query labels 0\.\.2"):
        check_episode(x, torch.tensor([0, 1, 0, 1]), x, torch.tensor([0, 1, 2, 1]))


def test_core_functions_reject_bad_shapes():
    with pytest.raises(ValueError, match=r"\(N\*K, D\)"):
        prototypes(torch.randn(4, 3), torch.tensor([0, 1, 0]), 2)
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        prototype_logits(torch.randn(4, 3), torch.randn(2, 5))
    with pytest.raises(ValueError, match="distance"):
        prototype_logits(torch.randn(4, 3), torch.randn(2, 3), "manhattan")
    with pytest.raises(ValueError, match=r"\(N\*Q,\)"):
        episode_loss(torch.randn(4, 2), torch.tensor([0, 1]))


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"k_shot": 0}, "k_shot"),
        ({"n_query": 0}, "n_query"),
        ({"n_way": 1}, "n_way"),
        ({"distance": "l1"}, "distance"),
        ({"backbone": "resnet"}, "backbone"),
    ],
)
def test_config_rejects_invalid_values(overrides, match):
    with pytest.raises(ValueError, match=match):
        ProtoNetConfig(**overrides)


def test_sampler_rejects_more_ways_than_classes():
    with pytest.raises(ValueError, match="exceeds"):
        make_sampler(replace(MLP, test_classes=4), "test", n_way=5)
    with pytest.raises(ValueError, match="split"):
        make_sampler(MLP, "validation")


def test_evaluate_is_exact_on_noise_free_classes():
    """Without spread, nuisance or warp every example sits on its class centre: accuracy is exactly 1."""
    cfg = replace(
        MLP, x_dim=2, latent_dim=1, class_std=0.0, nuisance_std=0.0, warp_gain=0.0, test_episodes=20
    )
    assert evaluate(nn.Flatten(), cfg)["accuracy"] == 1.0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"test_episodes": 0}, "test_episodes must be >= 1"),
        ({"train_steps": -1}, "train_steps must be >= 0"),
        ({"lr_decay": 0.0}, "lr_decay in \\(0, 1\\]"),
        ({"lr_decay": 1.5}, "lr_decay in \\(0, 1\\]"),
        ({"outer_lr": 0.0}, "outer_lr must be > 0"),
    ],
)
def test_config_rejects_out_of_range_fields_by_name(fields: dict, message: str) -> None:
    """A value the algorithm cannot run with fails when the config is built, naming the field."""
    with pytest.raises(ValueError, match=message):
        ProtoNetConfig(**fields)


def test_train_step_refuses_a_non_finite_loss_and_leaves_the_weights():
    """One NaN query image makes the loss NaN: no Adam step may spread it into the weights."""
    sx, sy, qx, qy = (t[None] for t in episode64(seed=3))
    qx = qx.clone()
    qx[0, 0, 0] = float("nan")
    model = mlp64()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="non-finite training loss"):
        train_step(model, torch.optim.Adam(model.parameters()), (sx, sy, qx, qy), MLP)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
