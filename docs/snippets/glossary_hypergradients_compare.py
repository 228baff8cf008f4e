# ruff: noqa: F821  (make_problem, validation_loss, exact_solution, unrolled_solution,
# hypergradient_unrolled, hypergradient_implicit, finite_difference and saved_bytes_unrolled come
# from glossary_hypergradients_ridge.py, included in the same executed block just before this file)
# One ridge problem, one penalty; the hypergradient dF/dlog(lambda) by unrolling T inner steps, by
# the implicit formula at the T-th iterate, and by finite differences, against the converged value.
import math

import claims
import figures
import torch
from matplotlib import ticker

problem = make_problem(30, 30, 20, 0.5, torch.Generator().manual_seed(0))
LOG_PENALTY, HORIZONS, EPS = math.log(0.01), (3, 10, 30, 100, 300, 1000), 1e-5
curvature = float(torch.linalg.eigvalsh(problem.gram).max()) + math.exp(LOG_PENALTY)
LR = 0.45 / curvature  # each step moves the stiffest direction 90% of the way to its minimum


def truncated(log_penalty: float, steps: int) -> float:
    """Validation loss after `steps` inner steps: the objective the unrolled gradient sees."""
    theta = torch.tensor(log_penalty, dtype=torch.float64)
    return float(validation_loss(problem, unrolled_solution(problem, theta, steps, LR)))


def converged(log_penalty: float) -> float:
    """Validation loss at the exact inner minimiser."""
    theta = torch.tensor(log_penalty, dtype=torch.float64)
    return float(validation_loss(problem, exact_solution(problem, theta)))


theta0 = torch.tensor(LOG_PENALTY, dtype=torch.float64)
exact = hypergradient_implicit(problem, LOG_PENALTY, exact_solution(problem, theta0))
exact_fd = finite_difference(converged, LOG_PENALTY, EPS)
estimate = {}  # (method, T) -> hypergradient estimate
memory = {}  # T -> bytes saved for the backward pass of the unrolled estimate
for steps in HORIZONS:
    iterate = unrolled_solution(problem, theta0, steps, LR)
    estimate["unrolled", steps] = hypergradient_unrolled(problem, LOG_PENALTY, steps, LR)
    estimate["implicit at w_T", steps] = hypergradient_implicit(problem, LOG_PENALTY, iterate)
    estimate["finite diff., truncated", steps] = finite_difference(
        lambda t, steps=steps: truncated(t, steps), LOG_PENALTY, EPS
    )
    memory[steps] = saved_bytes_unrolled(problem, LOG_PENALTY, steps, LR)


def rel(value: float, reference: float) -> float:
    return abs(value - reference) / abs(reference)


# The page's sentences, checked against this output (one deterministic problem, float64):
claims.check(rel(exact_fd, exact) < 1e-6, "the implicit formula at the minimiser is exact",
             f"{exact:.6g} against finite differences {exact_fd:.6g}")  # fmt: skip
for steps in HORIZONS:
    claims.check(
        rel(estimate["finite diff., truncated", steps], estimate["unrolled", steps]) < 1e-6,
        f"the unrolled hypergradient is the exact derivative of the {steps}-step objective",
    )
short = HORIZONS[:3]  # the three shortest horizons
for steps in short:
    for method in ("unrolled", "implicit at w_T"):
        claims.check(
            estimate[method, steps] * exact < 0,
            f"at T = {steps} the {method} hypergradient points the wrong way",
            f"{estimate[method, steps]:.4g} against {exact:.4g}",
        )
longest = HORIZONS[-1]
for method in ("unrolled", "implicit at w_T"):
    claims.check(rel(estimate[method, longest], exact) < 1e-3,
                 f"at T = {longest} the {method} hypergradient is within 0.1% of the converged one")  # fmt: skip
for steps in HORIZONS[-2:]:
    claims.check(
        rel(estimate["implicit at w_T", steps], exact) < rel(estimate["unrolled", steps], exact),
        f"near convergence (T = {steps}) the implicit estimate is the more accurate",
    )
per_step = [memory[steps] / steps for steps in HORIZONS if steps >= 10]
claims.check(max(per_step) / min(per_step) < 1.1, "the unrolled memory grows in proportion to T",
             str(per_step))  # fmt: skip
dim = problem.gram.shape[0]
implicit_bytes = (dim * dim + 3 * dim) * problem.gram.element_size()  # the (D, D) solve, 3 vectors

fig, (left, right) = figures.canvas(size=(7.6, 3.6), ncols=2)
with figures.style():  # custom drawing: text and lines follow the page's palette
    steps_axis = list(HORIZONS)
    for i, method in enumerate(("unrolled", "implicit at w_T")):
        left.plot(steps_axis, [estimate[method, s] for s in steps_axis], color=figures.color(i),
                  marker=figures.marker(i), ls=("-", "--")[i], label=method)  # fmt: skip
    left.plot(steps_axis, [estimate["finite diff., truncated", s] for s in steps_axis], ls="none",
              marker="x", ms=8, color=figures.color(2), label="finite diff. of the T-step objective")  # fmt: skip
    left.axhline(exact, color=figures.FOREGROUND, lw=1.2, ls=":", label="converged (exact)")
    left.axhline(0, color=figures.MUTED, lw=1)
    left.set_xscale("log")
    left.set_xticks(steps_axis, [str(s) for s in steps_axis])
    left.minorticks_off()
    left.set_xlabel("inner steps T (log scale)")
    left.set_ylabel("hypergradient dF / d log λ")
    left.legend(loc="lower left", bbox_to_anchor=(0.0, 0.1), fontsize=7)
    right.plot(steps_axis, [memory[s] / 1024 for s in steps_axis], color=figures.color(0),
               marker=figures.marker(0), label="unrolled: saved for backward")  # fmt: skip
    right.axhline(implicit_bytes / 1024, color=figures.color(1), ls="--",
                  label="implicit: one D×D linear system")  # fmt: skip
    right.set_xscale("log")
    right.set_yscale("log")
    right.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))  # no mathtext
    right.set_xticks(steps_axis, [str(s) for s in steps_axis])
    right.minorticks_off()
    right.set_xlabel("inner steps T (log scale)")
    right.set_ylabel("memory (KiB, log scale)")
    right.legend(loc="upper left", fontsize=7)

rows = [
    [
        steps,
        *(f"{estimate[m, steps]:+.5f}" for m in ("unrolled", "implicit at w_T",
                                                 "finite diff., truncated")),
        f"{rel(estimate['unrolled', steps], exact):.2e}",
        f"{rel(estimate['implicit at w_T', steps], exact):.2e}",
        f"{memory[steps] / 1024:.1f}",
    ]
    for steps in HORIZONS
]  # fmt: skip
headers = ["T", "unrolled", "implicit at w_T", "finite diff. (T-step)", "rel. error unrolled",
           "rel. error implicit", "unrolled memory (KiB)"]  # fmt: skip
print(
    figures.render(
        fig,
        alt="Left: the hypergradient of the validation loss with respect to the log penalty "
        "against the number of inner steps, for the unrolled and the implicit estimate; both "
        "start with the wrong sign and reach the converged value. Right: the unrolled "
        "estimate's memory grows in proportion to the number of steps, the implicit one's is "
        "one small linear system.",
        caption=f"Ridge regression, {problem.train_x.shape[0]} training and "
        f"{problem.val_x.shape[0]} validation points, {dim} features with decaying scales, "
        f"penalty {math.exp(LOG_PENALTY):g}; inner loop is gradient descent from zero. Crosses: "
        "central finite differences of the truncated objective, on top of the unrolled values.",
        numbers=figures.table(headers, rows),
    )
)
print(
    f"Converged hypergradient {exact:+.5f} (finite differences of the converged objective: "
    f"{exact_fd:+.5f}); implicit method's linear system {implicit_bytes / 1024:.1f} KiB."
)
