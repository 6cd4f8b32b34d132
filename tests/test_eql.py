"""EQL: fits and extracts a known formula, hand-set networks read out exactly, pruning keeps the fit."""

import numpy as np
import pytest
import sympy as sp
import torch

from symdistill.core.laws import BUILTIN_LAWS
from symdistill.distill.verdict import judge
from symdistill.gnn.eql import EQL, EQLSettings, input_exprs
from symdistill.gnn.models import GraphNetwork, ModelSettings

X_, Y_, Z_ = sp.symbols("dx dy m1", real=True)


def _fit(net, x, y, steps, lr=1e-2, sparsity=0.0):
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(steps):
        loss = ((net(x)[:, 0] - y) ** 2).mean()
        if sparsity:
            loss = loss + sparsity * net.sparsity_penalty()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return ((net(x)[:, 0] - y) ** 2).mean().item()


def test_eql_fits_and_extracts_small_formula():
    torch.manual_seed(0)
    x = torch.rand(512, 3) * 4 - 2
    y = x[:, 0] * x[:, 1] + 2 * x[:, 2]
    net = EQL(3, 1, EQLSettings(layers=1, constant=1, identity=2, product=2, exp=0))
    _fit(net, x, y, 1500, sparsity=1e-3)
    net.prune(0.05)
    mse = _fit(net, x, y, 500)
    assert mse < 1e-4, mse
    (expr,) = net.to_sympy(input_exprs(["dx", "dy", "m1"]), digits=2)
    assert sp.simplify(expr - (X_ * Y_ + 2 * Z_)) == 0, expr


def test_hand_set_network_reads_out_exactly():
    net = EQL(2, 1, EQLSettings(layers=1, constant=1, identity=1, product=1, exp=0))
    with torch.no_grad():
        lin = net.layers[0].linear  # units: [const | ident | prod_a | prod_b]
        lin.weight.zero_()
        lin.bias.zero_()
        lin.bias[0] = 3.0  # constant unit = 3
        lin.weight[1, 0] = 1.0  # identity unit = dx
        lin.weight[2, 0] = 2.0  # product = (2 dx) * (dy - 1)
        lin.weight[3, 1] = 1.0
        lin.bias[3] = -1.0
        net.out.weight.copy_(torch.tensor([[0.5, 1.0, 1.0]]))
        net.out.bias.fill_(0.25)
    (expr,) = net.to_sympy(input_exprs(["dx", "dy"]))
    want = 0.5 * 3 + X_ + 2 * X_ * (Y_ - 1) + 0.25
    assert sp.simplify(expr - want) == 0, expr
    x = torch.randn(10, 2, dtype=torch.float32)
    f = sp.lambdify((X_, Y_), expr)
    np.testing.assert_allclose(net(x)[:, 0].detach().numpy(), f(*x.numpy().T), rtol=1e-5, atol=1e-5)


def test_pruning_keeps_the_fit():
    torch.manual_seed(1)
    x = torch.rand(512, 3) * 4 - 2
    y = 1.5 * x[:, 0] * x[:, 2] - x[:, 1]
    net = EQL(3, 1, EQLSettings(layers=2, constant=2, identity=4, product=2, exp=0))
    before = _fit(net, x, y, 2000, sparsity=1e-3)
    kept = net.prune(0.01)
    after = ((net(x)[:, 0] - y) ** 2).mean().item()
    assert after < max(10 * before, 1e-3), (before, after)
    total = sum(l.weight.numel() + l.bias.numel() for l, _, _ in net.linears())
    assert kept < total


def _r2_eql_model() -> GraphNetwork:
    """A newtonian eql GraphNetwork, all weights zero but those of its second-layer product
    unit p1 = (dx inv_r3) * (m1 m2), the r2 force up to sign."""
    cfg = ModelSettings("eql", 2, 6, 8, 1, 2, "newtonian",
                        {"inputs": ["dx", "dy", "inv_r3", "m1", "m2"], "layers": 2, "constant": 0,
                         "identity": 1, "product": 2, "square": 0, "sin": 0, "exp": 0, "division": 0,
                         "skip": False})
    model = GraphNetwork(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        l1, l2 = model.edge_model.layers
        # layer 1 units: [ident | p1a p2a | p1b p2b] -> p1 = dx * inv_r3, p2 = m1 * m2
        l1.linear.weight[1, 0] = 1.0
        l1.linear.weight[3, 2] = 1.0
        l1.linear.weight[2, 3] = 1.0
        l1.linear.weight[4, 4] = 1.0
        # layer 2: p1 = (dx inv_r3) * (m1 m2)
        l2.linear.weight[1, 1] = 1.0
        l2.linear.weight[3, 2] = 1.0
    return model


def test_newtonian_eql_graph_network_extracts_force():
    """A hand-set eql edge model emitting the r2 force reads out as 'correct' through the verdict."""
    model = _r2_eql_model()
    cfg = model.cfg
    with torch.no_grad():
        model.edge_model.out.weight[0, 1] = -1.0
    (expr,) = model.edge_model.to_sympy(input_exprs(cfg.eql["inputs"]), [0])
    assert judge(expr, BUILTIN_LAWS["r2"], 2)["verdict"] == "correct", expr


def test_exp_units_read_only_log_inputs_and_fit_a_power_law():
    """With log-space inputs, exp units are monomials: dx * m1 * m2 / r^2 is learned and read out."""
    names = ["dx", "dy", "log_r", "log_m1", "log_m2"]
    net = EQL(5, 1, EQLSettings(layers=2, constant=1, identity=2, product=1, exp=1), exp_inputs=[2, 3, 4])
    first = net.layers[0].mask  # rows: const | ident x2 | prod a | prod b | exp
    assert first[-1].tolist() == [0, 0, 1, 1, 1]  # exp reads logs only
    assert first[1:5, 2:].abs().sum() == 0  # nothing else reads a log
    assert all(layer.units.counts["exp"] == 0 for layer in net.layers[1:])
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    dx, dy = torch.randn(2048, generator=g), torch.randn(2048, generator=g)
    r, m1, m2 = (torch.rand(3, 2048, generator=g) * 2 + 0.5)
    x = torch.stack([dx, dy, torch.log(r), torch.log(m1), torch.log(m2)], dim=1)
    y = dx * m1 * m2 / r**2
    net.set_input_scale(x)
    _fit(net, x, y, 3000, lr=1e-2, sparsity=1e-4)
    net.prune(0.05)
    mse = _fit(net, x, y, 1500, lr=3e-3)
    assert mse < 1e-4 * y.var().item(), mse
    (expr,) = net.to_sympy(input_exprs(names))
    r_, m1_, m2_ = sp.symbols("r m1 m2", real=True)
    target = X_ * m1_ * m2_ / r_**2
    assert judge(expr, BUILTIN_LAWS["r1"], 2)["verdict"] == "correct", expr
    f = sp.lambdify((X_, r_, m1_, m2_), expr - target)
    assert np.abs(f(dx.numpy(), r.numpy(), m1.numpy(), m2.numpy())).max() < 0.05 * y.abs().max().item()


def test_snap_exponents_freezes_near_grid_values_only():
    net = EQL(3, 1, EQLSettings(layers=1, constant=0, identity=1, product=0, exp=2), exp_inputs=[1, 2])
    with torch.no_grad():
        net.in_scale.copy_(torch.tensor([1.0, 2.0, 0.5]))
        w = net.layers[0].linear.weight  # rows: ident | exp | exp
        w[1, 1], w[1, 2] = 0.97 * 2.0, -2.9 * 0.5  # exponents 0.97 and -2.9: snapped to 1, -3
        w[2, 1], w[2, 2] = 0.7 * 2.0, 0.0  # 0.7: too far from the 0.5 grid, stays trainable
    assert net.snap_exponents(0.5, 0.15) == 3  # 0.97, -2.9 and the zero
    layer = net.layers[0]
    assert layer.weight()[1, 1].item() == pytest.approx(2.0) and layer.weight()[1, 2].item() == pytest.approx(-1.5)
    assert layer.mask[1, 1] == 0 and layer.mask[2, 1] == 1
    assert layer.weight()[2, 1].item() == pytest.approx(1.4)
    (expr,) = net.to_sympy(input_exprs(["dx", "log_r", "log_m1"]), drop=0)
    assert "r**1.0/m1**3.0" in str(expr) and "r**0.7" in str(expr), expr


def test_direction_inputs_are_the_unit_separation_and_give_the_softened_law_exactly():
    """ux, uy (dx / |dx|) on edges equal their sympy read-out, and ux m1 m2 / r^2 in them is the
    data's r2 force exactly (dx m1 m2 / r^3 is not: r is the softened distance); 3-D adds uz."""
    from symdistill.core.edges import edge_columns, edge_features, edge_matrix, pair_forces
    from symdistill.gnn.eql import edge_inputs
    from symdistill.gnn.variants import get_variant

    g = torch.Generator().manual_seed(0)
    x_i, x_j = torch.randn(64, 6, generator=g, dtype=torch.float64), torch.randn(64, 6, generator=g, dtype=torch.float64)
    x_i[:, -1], x_j[:, -1] = x_i[:, -1].abs() + 0.5, x_j[:, -1].abs() + 0.5  # masses
    soft = 0.01
    got = edge_inputs(["ux", "uy"], x_i, x_j, 2, soft).numpy()
    cols = edge_features(x_i[:, :2].numpy(), x_j[:, :2].numpy(), x_i[:, -1].numpy(), x_j[:, -1].numpy(),
                         x_i[:, -2].numpy(), x_j[:, -2].numpy(), soft)
    X = edge_matrix(cols, 2)
    symbols = [sp.Symbol(c, real=True) for c in edge_columns(2)]
    for k, e in enumerate(input_exprs(["ux", "uy"], soft)):
        np.testing.assert_allclose(got[:, k], sp.lambdify(symbols, e)(*X.T), rtol=1e-12)
    law = BUILTIN_LAWS["r2"]
    true = pair_forces(law, X, 2)[:, 0]
    r_, m1_, m2_ = sp.symbols("r m1 m2", real=True)
    ux = input_exprs(["ux"], soft)[0]
    exact = sp.lambdify(symbols, -ux * m1_ * m2_ / r_**2)(*X.T)
    plain = sp.lambdify(symbols, -X_ * m1_ * m2_ / r_**3)(*X.T)
    np.testing.assert_allclose(exact, true, rtol=1e-12)
    assert np.abs(plain - true).max() > 1e-6 * np.abs(true).max()
    cfg = {"eql": {"inputs": ["ux", "uy", "log_r"], "inputs_per_sim": {}, "node_output": "newtonian",
                   "grad_clip": 1.0, **{k: 0 for k in ("layers", "constant", "identity", "product", "square",
                                                        "sin", "exp", "division", "skip", "message_l1",
                                                        "sparsity", "sparsity_kind", "sparsity_start",
                                                        "prune_at", "threshold", "snap", "snap_tol")}}}
    assert get_variant("eql").train_overrides(cfg, 3, "r2")["eql"]["inputs"] == ["ux", "uy", "uz", "log_r"]


def test_a_force_spread_over_messages_is_read_through_the_node_model():
    """Message 0 = -F + dx and message 1 = dx, read out as W = [[1, -1], [0, 0]]: each message
    alone is not the law, the per-edge force W m is, and the eql engine distils that."""
    model = _r2_eql_model()
    cfg = model.cfg
    with torch.no_grad():
        l1, l2 = model.edge_model.layers
        l1.linear.weight[0, 0] = 1.0  # identity = dx, in both layers
        l2.linear.weight[0, 0] = 1.0
        out = model.edge_model.out.weight
        out[0, 1], out[0, 0], out[1, 0] = -1.0, 1.0, 1.0
        model.node_model.weight.copy_(torch.tensor([[1.0, -1.0], [0.0, 0.0]]))
    inputs = input_exprs(cfg.eql["inputs"])
    (alone,) = model.edge_model.to_sympy(inputs, [0])
    assert judge(alone, BUILTIN_LAWS["r2"], 2)["verdict"] == "wrong", alone
    W = model.message_readout()
    assert W is not None and W.shape == (2, 2)
    (through,) = model.edge_model.to_sympy(inputs, [0], readout=W)
    assert judge(through, BUILTIN_LAWS["r2"], 2)["verdict"] == "correct", through
    model.cfg.node_output = "acceleration"  # an MLP node model has no linear read-out to go through
    assert model.message_readout() is None
