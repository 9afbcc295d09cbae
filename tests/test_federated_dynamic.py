"""Dynamic averaging as published: balancing, the reference model, exact message counts, the
divergence guarantee (Kamp et al., ECML PKDD 2018; dlplatform's DynamicHedgeSync)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from radonml.federated import DynamicAveraging, Learners, make_learners, make_mlp, simulate  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class ScriptedLearners(Learners):
    """Learners whose local step adds a prescribed displacement: ``script[t]`` is an (m, d)
    array added at step t (steps count from 1; missing steps add nothing). The protocol under
    test is the real one; only the learners' motion is scripted, so every message can be
    counted by hand."""

    script: dict = {}

    def reset(self):
        self._t = 0
        return super().reset()

    def local_step(self, mask=None):
        self._t += 1
        move = self.script.get(self._t)
        if move is not None:
            self.theta += torch.as_tensor(move, dtype=self.theta.dtype)


def _scripted(m=8, script=None, dtype=torch.float32):
    # logistic regression 2 -> 2: d = 2 * 2 + 2 = 6; equal shards, so weights are equal
    X = np.zeros((2 * m, 2), dtype=np.float64 if dtype == torch.float64 else np.float32)
    y = np.tile([0, 1], m)
    L = ScriptedLearners(make_mlp(2, [], 2, dtype=dtype), [(X[2 * i : 2 * i + 2], y[2 * i : 2 * i + 2]) for i in range(m)])
    L.script = script or {}
    return L


def _move(m, d, rows):
    """An (m, d) displacement with ``rows[i] = x`` moving learner i by x along the first coordinate."""
    out = np.zeros((m, d))
    for i, x in rows.items():
        out[i, 0] = x
    return out


def test_balancing_hand_counts_and_draws():
    m, d, s = 8, 6, 4  # float32: 4 bytes a number
    # step 1: learner 3 moves 3 away from r (||.||^2 = 9 > 1); balancing with 2 learners at r gives
    # an average 1 away (1 <= 1): balanced, 3 models up (1 violator + 2 requested), 2 requests, 3 down
    L = _scripted(m, {1: _move(m, d, {3: 3.0})})
    proto = DynamicAveraging(delta=1.0, check_every=1)
    h = simulate(proto, L, steps=1, seed=7)
    f = h.final
    assert (f["messages"], f["bytes_up"], f["bytes_down"], f["syncs"], f["balancings"]) == (1 + 2 + 2 + 3, 3 * d * s, 3 * d * s, 0, 1)
    # the two learners drawn are the protocol's documented draw: k = 2 * |B| without replacement
    # among the others, from the simulation's seeded generator
    drawn = np.random.default_rng(7).choice(np.setdiff1d(np.arange(m), [3]), size=2, replace=False)
    (res,) = proto.resolutions
    assert res["violators"] == [3] and res["outcome"] == "balanced" and res["tries"] == 2
    assert res["set"] == sorted([3, *drawn.tolist()])
    th = h.learners.theta.numpy()
    theta0 = L.theta0.numpy()
    for i in range(m):  # the set holds its average (theta0 + 1 e_0), the others stayed at r
        want = theta0 + (np.eye(d)[0] if i in res["set"] else 0.0)
        np.testing.assert_allclose(th[i], want, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(proto.reference.numpy(), theta0)  # the reference stays


def test_balancing_fails_into_full_sync_hand_counts():
    m, d, s = 8, 6, 4
    # learner 3 moves 6 away (36): {3} fails, {3 + 2 drawn} averages 2 away (4 > 1); the next try
    # would request 2 * 3 = 6 more, and 3 + 6 >= m / 2, so the coordinator synchronises fully:
    # requests to the 5 not yet heard from, their models, m models down; r becomes the average
    L = _scripted(m, {1: _move(m, d, {3: 6.0})})
    proto = DynamicAveraging(delta=1.0, check_every=1)
    h = simulate(proto, L, steps=1, seed=7)
    f = h.final
    assert f["messages"] == 1 + (2 + 2) + (5 + 5) + 8
    assert f["bytes_up"] == 8 * d * s and f["bytes_down"] == 8 * d * s
    assert f["syncs"] == 1 and f["balancings"] == 0 and f["divergence"] == 0.0
    (res,) = proto.resolutions
    assert res["outcome"] == "full" and res["set"] == list(range(m)) and res["tries"] == 3
    want = L.theta0.numpy() + 6.0 / m * np.eye(d)[0]
    np.testing.assert_allclose(proto.reference.numpy(), want, rtol=0, atol=1e-6)
    # growth=1 (the set doubles): {3} fails, {3, a} averages 3 away (9 > 1), and the next set
    # would have 2 + 2 >= m / 2 learners -> full synchronisation after 2 aggregates tested
    proto = DynamicAveraging(delta=1.0, check_every=1, growth=1)
    f = simulate(proto, L, steps=1, seed=7).final
    assert proto.resolutions[0]["tries"] == 3 and f["syncs"] == 1
    assert f["messages"] == 1 + (1 + 1) + (6 + 6) + 8
    # ...with 16 learners it gets one more try: {3}, {3, a}, {3, a, b, c} (1.5 away), then 8 >= 8
    L16 = _scripted(16, {1: _move(16, d, {3: 6.0})})
    proto = DynamicAveraging(delta=1.0, check_every=1, growth=1)
    f = simulate(proto, L16, steps=1, seed=7).final
    assert proto.resolutions[0]["tries"] == 4
    assert f["messages"] == 1 + (1 + 1) + (2 + 2) + (12 + 12) + 16
    # with full_sync_fraction=1 the set may grow to 7 of 8: {3}, {3 + 2}, then 3 + 6 > 7 -> all
    proto = DynamicAveraging(delta=1.0, check_every=1, full_sync_fraction=1.0)
    f = simulate(proto, L, steps=1, seed=7).final
    assert f["messages"] == 1 + (2 + 2) + (5 + 5) + 8 and proto.resolutions[0]["outcome"] == "full"


def test_all_violators_full_sync_and_old_resolution_counts():
    m, d, s = 6, 6, 8  # float64: 8 bytes a number
    # every learner violates -> full synchronisation at once, no requests: m up, m down
    L = _scripted(m, {1: _move(m, d, {i: 2.0 + i for i in range(m)})}, dtype=torch.float64)
    proto = DynamicAveraging(delta=1.0, check_every=1)
    f = simulate(proto, L, steps=1).final
    assert (f["messages"], f["bytes_up"], f["bytes_down"], f["syncs"]) == (2 * m, m * d * s, m * d * s, 1)
    np.testing.assert_allclose(proto.reference.numpy(), L.theta0.numpy() + np.mean(2.0 + np.arange(m)) * np.eye(d)[0], atol=1e-12)
    # resolution="full" (Kamp et al. 2018's simpler variant): any violation synchronises all learners
    L = _scripted(m, {1: _move(m, d, {2: 3.0})}, dtype=torch.float64)
    proto = DynamicAveraging(delta=1.0, check_every=1, resolution="full")
    f = simulate(proto, L, steps=1).final
    assert f["messages"] == 1 + (m - 1) + (m - 1) + m and f["bytes_up"] == f["bytes_down"] == m * d * s
    assert f["syncs"] == 1 and f["balancings"] == 0


def test_checks_only_every_b_steps_and_violation_counter():
    m, d = 8, 6
    # learner 1 moves 1.2 at steps 1 and 2 (distance^2 = 5.76 only after step 2): with b = 2 the
    # single check is at step 2; learner 5 moves 3 at step 3, seen at the check at step 4
    script = {1: _move(m, d, {1: 1.2}), 2: _move(m, d, {1: 1.2}), 3: _move(m, d, {5: 3.0})}
    L = _scripted(m, script)
    proto = DynamicAveraging(delta=1.0, check_every=2)
    simulate(proto, L, steps=4, seed=1)
    assert [r["step"] for r in proto.resolutions] == [2, 4]
    assert [r["violators"] for r in proto.resolutions] == [[1], [5]]
    # the papers' violation counter: with max_violations=2 the second violation (2 in total since
    # the last full synchronisation) is resolved by a full synchronisation
    proto = DynamicAveraging(delta=1.0, check_every=2, max_violations=2)
    h = simulate(proto, L, steps=4, seed=1)
    assert [r["outcome"] for r in proto.resolutions][1] == "full" and h.final["syncs"] == 1
    # checks in between hold no communication at all
    L = _scripted(m, {1: _move(m, d, {0: 0.5})})
    h = simulate(DynamicAveraging(delta=1.0, check_every=1), L, steps=3)
    assert h.final["messages"] == 0


def test_balancing_preserves_the_weighted_mean():
    # unequal shards: the mean weighted by sample counts over all learners is unchanged by a
    # balancing (the set's weighted mean replaces its members)
    m, d = 10, 6
    sizes = [4, 6, 8, 4, 2, 6, 4, 8, 6, 4]  # learner 4, the violator, weighs least
    X = np.zeros((sum(sizes), 2), dtype=np.float64)
    y = np.tile([0, 1], sum(sizes) // 2)
    cuts = np.cumsum([0] + sizes)
    L = ScriptedLearners(make_mlp(2, [], 2, dtype=torch.float64), [(X[a:b], y[a:b]) for a, b in zip(cuts[:-1], cuts[1:])])
    rng = np.random.default_rng(3)
    L.script = {1: rng.normal(scale=0.2, size=(m, d)) + _move(m, d, {4: 2.0})}
    proto = DynamicAveraging(delta=1.0, check_every=1)
    seen = {}

    def before_after(t, protocol, learners):
        seen["after"] = learners.theta.numpy().copy()

    h = simulate(proto, L, steps=1, seed=2, callback=before_after)
    assert h.final["balancings"] == 1
    before = L.theta0.numpy() + L.script[1]
    w = np.array(sizes, dtype=float)
    np.testing.assert_allclose(w @ seen["after"] / w.sum(), w @ before / w.sum(), rtol=0, atol=1e-12)
    members = proto.resolutions[0]["set"]
    np.testing.assert_allclose(seen["after"][members], np.broadcast_to(w[members] @ before[members] / w[members].sum(), (len(members), d)), atol=1e-12)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n, f, k = 600, 6, 3
    W = rng.normal(size=(f, k))
    X = rng.normal(size=(n, f)).astype(np.float32)
    y = np.argmax(X @ W + 0.3 * rng.normal(size=(n, k)), axis=1)
    return X[:480], y[:480], X[480:], y[480:]


@pytest.mark.parametrize("resolution", ["balancing", "full"])
def test_divergence_guarantee_after_every_check(data, resolution):
    """The guarantee in the form it holds: right after the resolution at every check step,
    every local condition holds, so delta(f) = mean ||f_i - r||^2 - ||fbar - r||^2 <= Delta,
    computed here from the models directly (float64), independent of the simulator's
    divergence column. Between checks it need not hold."""
    X, y, Xt, yt = data
    L = make_learners(make_mlp(6, 8, 3, seed=1), X, y, 10, lr=0.3, batch_size=4, X_test=Xt, y_test=yt, seed=0)
    delta, b = 0.05, 3
    proto = DynamicAveraging(delta=delta, check_every=b, resolution=resolution)
    stats = {"checks": 0, "positive_after_resolution": 0}

    def check(t, protocol, learners):
        th = learners.theta.double().numpy()
        r = protocol.reference.double().numpy()
        cond = ((th - r) ** 2).sum(1)
        fbar = th.mean(0)
        div = ((th - fbar) ** 2).sum(1).mean()
        assert div == pytest.approx(cond.mean() - ((fbar - r) ** 2).sum(), rel=1e-9, abs=1e-12)
        if t % b == 0:
            stats["checks"] += 1
            assert (cond <= delta * (1 + 1e-12)).all()
            assert div <= delta * (1 + 1e-12)
            stats["positive_after_resolution"] += bool(protocol.resolutions and protocol.resolutions[-1]["step"] == t and div > 0)

    h = simulate(proto, L, steps=90, callback=check)
    assert stats["checks"] == 30
    if resolution == "balancing":
        # not vacuous: balancings happened, and they leave a positive divergence (a full
        # synchronisation would leave 0)
        assert h.final["balancings"] > 0 and stats["positive_after_resolution"] > 0
    else:
        assert h.final["balancings"] == 0 and h.final["syncs"] > 0


def test_bad_input():
    with pytest.raises(ValueError, match=r"resolution must be one of \('balancing', 'full'\), got 'partial'"):
        DynamicAveraging(resolution="partial")
    with pytest.raises(ValueError, match="growth must be a positive number, got 0"):
        DynamicAveraging(growth=0)
    with pytest.raises(ValueError, match="full_sync_fraction must lie in"):
        DynamicAveraging(full_sync_fraction=1.5)
    with pytest.raises(ValueError, match="full_sync_fraction must lie in \\(0, 1\\], got 0.0"):
        DynamicAveraging(full_sync_fraction=0)
    with pytest.raises(ValueError, match="max_violations must be >= 1, got 0"):
        DynamicAveraging(max_violations=0)
