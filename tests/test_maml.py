"""Tests of reference_impl/maml.py: closed forms, finite differences, an independent loop, properties."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn
from torch.func import functional_call

from reference_impl.maml import (
    MAMLConfig,
    NonFiniteLossError,
    adapt,
    build_model,
    default_sampler,
    evaluate,
    make_predict,
    meta_backward,
    meta_loss,
    omniglot_config,
    task_loss,
    train,
)


def _double(batch: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    return tuple(b.double() if b.is_floating_point() else b for b in batch)


def _meta_grads(model: nn.Module, batch: tuple[Tensor, ...], cfg: MAMLConfig) -> list[Tensor]:
    model.zero_grad(set_to_none=True)
    meta_backward(model, batch, cfg)
    return [p.grad.clone() for p in model.parameters()]


# ---------------------------------------------------------------- closed form, finite differences


# --8<-- [start:closed-form]
@pytest.mark.parametrize("first_order", [False, True])
def test_adapt_meta_gradient_matches_closed_form(first_order: bool) -> None:
    """Linear least squares: meta-gradient = (I - alpha H_S) grad L_Q(theta'); FOMAML drops the bracket."""
    torch.manual_seed(0)
    model = nn.Linear(3, 1, bias=False).double()
    params = {k: v.detach().requires_grad_() for k, v in model.named_parameters()}
    xs, ys, xq, yq = (
        torch.randn(n, d, dtype=torch.float64) for n, d in [(5, 3), (5, 1), (7, 3), (7, 1)]
    )
    cfg = MAMLConfig(inner_lr=0.1, inner_steps=1, first_order=first_order)

    loss = task_loss(functional_call(model, adapt(model, params, xs, ys, cfg), (xq,)), yq, cfg)
    (meta_grad,) = torch.autograd.grad(loss, params["weight"])

    w = params["weight"].detach().T  # (D, 1)
    hessian_s = 2 / 5 * xs.T @ xs  # (D, D)
    w_adapted = w - 0.1 * 2 / 5 * xs.T @ (xs @ w - ys)  # Eq. (1)
    grad_q = 2 / 7 * xq.T @ (xq @ w_adapted - yq)
    bracket = torch.eye(3, dtype=torch.float64) - (0.0 if first_order else 0.1) * hessian_s
    torch.testing.assert_close(meta_grad.T, bracket @ grad_q, rtol=1e-10, atol=1e-12)


# --8<-- [end:closed-form]


def test_adapt_passes_gradcheck_and_gradgradcheck_on_tanh_network() -> None:
    """Finite differences (float64) through two second-order inner steps of a tanh MLP."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)).double()
    names = [n for n, _ in model.named_parameters()]
    xs, ys, xq, yq = (
        torch.randn(n, d, dtype=torch.float64) for n, d in [(4, 2), (4, 1), (6, 2), (6, 1)]
    )
    cfg = MAMLConfig(inner_lr=0.3, inner_steps=2)

    def query_loss(*flat: Tensor) -> Tensor:
        adapted = adapt(model, dict(zip(names, flat, strict=True)), xs, ys, cfg)
        return task_loss(functional_call(model, adapted, (xq,)), yq, cfg)

    inputs = tuple(p.detach().clone().requires_grad_() for p in model.parameters())
    assert torch.autograd.gradcheck(query_loss, inputs)
    assert torch.autograd.gradgradcheck(query_loss, inputs)


# ---------------------------------------------------------------- independent re-implementation


# --8<-- [start:oracle]
def _conv4_forward(p: list[Tensor], x: Tensor, stride: int, max_pool: bool) -> Tensor:
    """Conv-4 written out by hand; batch norm with this batch's biased variance, eps 1e-5."""
    h = x
    for i in range(4):
        weight, gamma, beta = p[3 * i : 3 * i + 3]
        h = F.conv2d(h, weight, stride=stride, padding=1)
        mean = h.mean(dim=(0, 2, 3), keepdim=True)
        var = ((h - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
        h = (h - mean) / torch.sqrt(var + 1e-5) * gamma.view(1, -1, 1, 1) + beta.view(1, -1, 1, 1)
        h = torch.relu(h)
        if max_pool:
            h = F.max_pool2d(h, 2)
    return h.mean(dim=(2, 3)) @ p[12].T + p[13]


def _loop_meta_gradient(
    params: list[Tensor],
    batch: tuple[Tensor, ...],
    alpha: float,
    steps: int,
    first_order: bool,
    max_pool: bool,
) -> list[Tensor]:
    """Textbook MAML: a Python loop over tasks, autograd.grad(create_graph=True), one backward."""
    stride = 1 if max_pool else 2
    total = 0.0
    for sx, sy, qx, qy in zip(*batch, strict=True):
        fast = list(params)
        for _ in range(steps):
            loss = F.cross_entropy(_conv4_forward(fast, sx, stride, max_pool), sy)
            grads = torch.autograd.grad(loss, fast, create_graph=not first_order)
            fast = [w - alpha * g for w, g in zip(fast, grads, strict=True)]
        total = total + F.cross_entropy(_conv4_forward(fast, qx, stride, max_pool), qy)
    return list(torch.autograd.grad(total / len(batch[0]), params))


# --8<-- [end:oracle]


# --8<-- [start:independent-loop]
@pytest.mark.parametrize("path", ["exact", "fast"])
@pytest.mark.parametrize("steps", [1, 3])
@pytest.mark.parametrize("first_order", [False, True])
def test_meta_backward_matches_independent_loop_on_conv4(
    path: str, steps: int, first_order: bool
) -> None:
    """Conv-4 with batch norm, float64, T=3 tasks of 5-way 1-shot, 8 filters, 14x14 images."""
    cfg = omniglot_config(
        5,
        1,
        conv_channels=8,
        n_query=2,
        meta_batch_size=3,
        inner_steps=steps,
        first_order=first_order,
        path=path,
    )
    torch.manual_seed(steps)
    model = build_model(cfg).double()
    batch = _double(default_sampler(cfg)(torch.Generator().manual_seed(steps)))
    batch = (batch[0][..., :14, :14], batch[1], batch[2][..., :14, :14], batch[3])
    expected = _loop_meta_gradient(
        list(model.parameters()), batch, cfg.inner_lr, steps, first_order, False
    )
    for fuse in (False, True) if path == "fast" else (False,):
        got = _meta_grads(model, batch, replace(cfg, fuse_query=fuse))
        for g, e in zip(got, expected, strict=True):
            torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-12)


# --8<-- [end:independent-loop]


def test_meta_backward_matches_independent_loop_full_size() -> None:
    """Full size: 64 filters, 28x28, 5-way 1-shot, 15 queries, alpha 0.4, second order, float64."""
    cfg = omniglot_config(5, 1, meta_batch_size=2)
    torch.manual_seed(0)
    model = build_model(cfg).double()
    batch = _double(default_sampler(cfg)(torch.Generator().manual_seed(0)))
    expected = _loop_meta_gradient(list(model.parameters()), batch, cfg.inner_lr, 1, False, False)
    for path in ("exact", "fast"):
        got = _meta_grads(model, batch, replace(cfg, path=path))
        for g, e in zip(got, expected, strict=True):
            torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("path", ["exact", "fast"])
def test_meta_backward_matches_independent_loop_with_max_pool(path: str) -> None:
    """The max-pool variant (stride-1 convolutions, 2x2 pooling), 8 filters, 16x16, float64."""
    cfg = omniglot_config(
        5, 1, conv_channels=8, n_query=2, meta_batch_size=2, max_pool=True, path=path
    )
    torch.manual_seed(0)
    model = build_model(cfg).double()
    batch = _double(default_sampler(cfg)(torch.Generator().manual_seed(0)))
    batch = (batch[0][..., :16, :16], batch[1], batch[2][..., :16, :16], batch[3])
    expected = _loop_meta_gradient(list(model.parameters()), batch, cfg.inner_lr, 1, False, True)
    for fuse in (False, True):
        got = _meta_grads(model, batch, replace(cfg, fuse_query=fuse))
        for g, e in zip(got, expected, strict=True):
            torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-12)


# --8<-- [start:meta-loss]
def test_meta_loss_gradient_equals_meta_backward_on_sinusoids() -> None:
    """The stacked meta_loss and both meta_backward paths give one gradient (MLP, float64)."""
    cfg = MAMLConfig(meta_batch_size=4, inner_steps=2)
    torch.manual_seed(0)
    model = build_model(cfg).double()
    batch = _double(default_sampler(cfg)(torch.Generator().manual_seed(0)))
    params = dict(model.named_parameters())
    expected = torch.autograd.grad(meta_loss(model, params, batch, cfg), list(params.values()))
    for path, fuse in [("exact", False), ("fast", False), ("fast", True)]:
        got = _meta_grads(model, batch, replace(cfg, path=path, fuse_query=fuse))
        for g, e in zip(got, expected, strict=True):
            torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-12)


# --8<-- [end:meta-loss]


# ---------------------------------------------------------------- properties


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**16), steps=st.integers(1, 3))
def test_adapt_with_zero_inner_lr_returns_parameters_unchanged(seed: int, steps: int) -> None:
    cfg = omniglot_config(5, 1, conv_channels=8, meta_batch_size=1, inner_lr=0.0, inner_steps=steps)
    torch.manual_seed(seed)
    model = build_model(cfg)
    sx, sy, _, _ = default_sampler(cfg)(torch.Generator().manual_seed(seed))
    params = dict(model.named_parameters())
    adapted = adapt(model, params, sx[0], sy[0], cfg)
    for name, p in params.items():
        assert torch.equal(adapted[name], p)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**16), task=st.sampled_from(["sinusoid", "omniglot"]))
def test_adapt_small_step_lowers_support_loss(seed: int, task: str) -> None:
    base = MAMLConfig() if task == "sinusoid" else omniglot_config(5, 1, conv_channels=8)
    cfg = replace(base, meta_batch_size=1, inner_lr=1e-4, inner_steps=1)
    torch.manual_seed(seed)
    model = build_model(cfg).double()
    sx, sy, _, _ = _double(default_sampler(cfg)(torch.Generator().manual_seed(seed)))
    params = dict(model.named_parameters())
    before = task_loss(functional_call(model, params, (sx[0],)), sy[0], cfg)
    after = task_loss(
        functional_call(model, adapt(model, params, sx[0], sy[0], cfg), (sx[0],)), sy[0], cfg
    )
    assert after < before


@pytest.mark.parametrize("first_order", [False, True])
@pytest.mark.parametrize("path", ["exact", "fast"])
def test_meta_backward_gives_every_parameter_finite_nonzero_gradient(
    path: str, first_order: bool
) -> None:
    cfg = omniglot_config(
        5, 1, conv_channels=8, meta_batch_size=2, first_order=first_order, path=path
    )
    torch.manual_seed(0)
    model = build_model(cfg)
    grads = _meta_grads(model, default_sampler(cfg)(torch.Generator().manual_seed(0)), cfg)
    for (name, _), g in zip(model.named_parameters(), grads, strict=True):
        assert g.isfinite().all() and g.abs().max() > 0, name


# --8<-- [start:predict]
def test_make_predict_keeps_weights_and_returns_logits_per_query() -> None:
    cfg = omniglot_config(5, 1, conv_channels=8)
    model = build_model(cfg)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    sx, sy, qx, _ = default_sampler(replace(cfg, meta_batch_size=1))(
        torch.Generator().manual_seed(0)
    )
    logits = make_predict(model, cfg)(sx[0], sy[0], qx[0])
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    # The same logits by hand: `test_inner_steps` plain SGD steps on a copy, then the queries.
    params = {n: p.detach().clone() for n, p in model.named_parameters()}
    for _ in range(cfg.test_inner_steps):
        params = {n: p.requires_grad_() for n, p in params.items()}
        loss = F.cross_entropy(functional_call(model, params, (sx[0],)), sy[0])
        grads = torch.autograd.grad(loss, list(params.values()))
        steps = zip(params.items(), grads, strict=True)
        params = {n: (p - cfg.inner_lr * g).detach() for (n, p), g in steps}
    expected = functional_call(model, params, (qx[0],))
    assert logits.shape == (5 * 15, 5) and cfg.test_inner_steps == 3
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-6)


# --8<-- [end:predict]


# --8<-- [start:conv-modes]
def test_build_model_gives_n_way_logits_for_28x28_in_both_conv_modes() -> None:
    for max_pool in (False, True):
        model = build_model(omniglot_config(20, 1, max_pool=max_pool))
        assert model(torch.rand(3, 1, 28, 28)).shape == (3, 20)
        assert sum(isinstance(m, nn.MaxPool2d) for m in model) == (4 if max_pool else 0)


# --8<-- [end:conv-modes]


# --8<-- [start:appendix-a1]
def test_omniglot_config_matches_appendix_a1() -> None:
    five, twenty = omniglot_config(5), omniglot_config(20)
    assert (five.inner_steps, five.inner_lr, five.meta_batch_size, five.test_inner_steps) == (
        1,
        0.4,
        32,
        3,
    )
    assert (
        twenty.inner_steps,
        twenty.inner_lr,
        twenty.meta_batch_size,
        twenty.test_inner_steps,
    ) == (5, 0.1, 16, 5)


# --8<-- [end:appendix-a1]


# ---------------------------------------------------------------- fast path, learning


# --8<-- [start:fast-path]
def test_fast_path_float32_meta_gradient_and_training_match_exact() -> None:
    """float32: gradients agree within assert_close's float32 defaults (rtol 1.3e-6, atol 1e-5);
    after 60 sinusoid meta-steps from one init on the same tasks, parameters agree to 1e-4."""
    cfg = omniglot_config(5, 1, conv_channels=16, meta_batch_size=4)
    torch.manual_seed(0)
    model = build_model(cfg)
    batch = default_sampler(cfg)(torch.Generator().manual_seed(0))
    exact = _meta_grads(model, batch, cfg)
    for fuse in (False, True):
        for g, e in zip(
            _meta_grads(model, batch, replace(cfg, path="fast", fuse_query=fuse)),
            exact,
            strict=True,
        ):
            torch.testing.assert_close(g, e)

    sin = MAMLConfig(meta_batch_size=5, train_steps=60)
    trained = {}
    for path in ("exact", "fast"):
        torch.manual_seed(0)
        trained[path] = build_model(sin)
        train(
            trained[path],
            replace(sin, path=path, fuse_query=True),
            torch.Generator().manual_seed(0),
        )
    for e, f in zip(trained["exact"].parameters(), trained["fast"].parameters(), strict=True):
        torch.testing.assert_close(f, e, rtol=1e-4, atol=1e-4)


# --8<-- [end:fast-path]


def test_train_sinusoid_cuts_post_adaptation_mse_below_half() -> None:
    """300 steps, T=10, outer_lr 3e-3, 5 test steps: after/before MSE was 0.379-0.403 on seeds
    0-4 (about 3 s each); threshold 0.5 leaves a margin of at least 0.097."""
    cfg = MAMLConfig(
        path="fast",
        fuse_query=True,
        train_steps=300,
        meta_batch_size=10,
        eval_tasks=50,
        outer_lr=3e-3,
        test_inner_steps=5,
        seed=0,
    )
    torch.manual_seed(0)
    model = build_model(cfg)
    train(model, cfg, torch.Generator().manual_seed(0))
    metrics = evaluate(model, cfg, torch.Generator().manual_seed(100))
    assert metrics["mse_after"] < 0.5 * metrics["mse_before"]


# ---------------------------------------------------------------- bad input


def test_meta_backward_rejects_mismatched_support_and_query_shapes() -> None:
    cfg = omniglot_config(5, 1, conv_channels=8, meta_batch_size=2)
    sx, sy, qx, qy = default_sampler(cfg)(torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="query_x"):
        meta_backward(build_model(cfg), (sx, sy, qx[..., :14, :14], qy), cfg)
    with pytest.raises(ValueError, match="support_y"):
        meta_backward(build_model(cfg), (sx, sy[:, :3], qx, qy), cfg)


def test_make_predict_rejects_labels_out_of_range() -> None:
    cfg = omniglot_config(5, 1, conv_channels=8, meta_batch_size=1)
    sx, sy, qx, _ = default_sampler(cfg)(torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.4, got 1\.\.5"):
        make_predict(build_model(cfg), cfg)(sx[0], sy[0] + 1, qx[0])


def test_sinusoid_points_must_be_column_vectors() -> None:
    """(K,) targets against (K, 1) outputs would broadcast to a (K, K) loss without an error."""
    cfg = MAMLConfig(meta_batch_size=2)
    sx, sy, qx, qy = default_sampler(cfg)(torch.Generator().manual_seed(0))
    with pytest.raises(
        ValueError, match=r"x and y \(K, 1\).*got support_x \(10, 1\), support_y \(10,\)"
    ):
        make_predict(build_model(cfg), cfg)(sx[0], sy[0, :, 0], qx[0])
    with pytest.raises(ValueError, match=r"leading T.*, query_y \(2, 10\)$"):
        meta_backward(build_model(cfg), (sx, sy, qx, qy[..., 0]), cfg)
    assert make_predict(build_model(cfg), cfg)(sx[0], sy[0], qx[0]).shape == (10, 1)


def test_config_rejects_negative_inner_steps() -> None:
    with pytest.raises(ValueError, match="inner_steps"):
        MAMLConfig(inner_steps=-1)
    with pytest.raises(ValueError, match="backbone"):
        MAMLConfig(backbone="resnet")


# --8<-- [start:non-finite]
def test_train_stops_on_non_finite_loss_and_keeps_last_good_state() -> None:
    cfg = MAMLConfig(meta_batch_size=2, train_steps=5)
    sampler = default_sampler(cfg)
    calls = []

    def poisoned(generator: torch.Generator) -> tuple[Tensor, ...]:
        calls.append(1)
        sx, sy, qx, qy = sampler(generator)
        return (sx, sy, qx, qy * float("nan")) if len(calls) == 3 else (sx, sy, qx, qy)

    torch.manual_seed(0)
    model = build_model(cfg)
    with pytest.raises(NonFiniteLossError, match="meta-step 2") as info:
        train(model, cfg, torch.Generator().manual_seed(0), sample_batch=poisoned)

    torch.manual_seed(0)
    two_steps = build_model(cfg)
    train(two_steps, replace(cfg, train_steps=2), torch.Generator().manual_seed(0))
    for key, value in two_steps.state_dict().items():
        assert torch.equal(model.state_dict()[key], value)
        assert torch.equal(info.value.last_good_state[key], value)


# --8<-- [end:non-finite]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"eval_tasks": 0}, "eval_tasks must be >= 1"),
        ({"train_steps": -1}, "train_steps must be >= 0"),
        ({"outer_lr": 0.0}, "outer_lr must be > 0"),
        ({"inner_lr": -0.1}, "inner_lr must be >= 0"),
    ],
)
def test_config_rejects_out_of_range_fields_by_name(fields: dict, message: str) -> None:
    """A value the algorithm cannot run with fails when the config is built, naming the field."""
    with pytest.raises(ValueError, match=message):
        MAMLConfig(**fields)
