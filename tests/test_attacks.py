"""Tests of radonml.attacks: every attack against its paper's formula on hand-checked cases and
independent references (a transcription of ``radonml compare --corrupt``, the normal quantile
from the standard library, a bisection oracle and a dense grid for min-max), determinism,
composition with the aggregators, the registry and bad input."""

import copy
import json
import warnings
from statistics import NormalDist

import numpy as np
import pytest

import radonml
from radonml import aggregate
from radonml import attacks as A
from radonml.exceptions import ConvergenceWarning

MODEL_ATTACKS = ("alie", "gaussian_noise", "inf_nan", "ipm", "mimic", "min_max", "min_sum", "sign_flip")


def gradients(seed, n_h=20, d=30, f=5, offset=0.1):
    """Honest vectors in the regime of the papers (gradients: a small mean next to the noise),
    and the Byzantine learners' own honest vectors from the same distribution."""
    rng = np.random.default_rng(seed)
    return offset + rng.standard_normal((n_h, d)), offset + rng.standard_normal((f, d))


def deviation(H, B, method="mean", **options):
    """How far the aggregate of honest + Byzantine moves from the honest mean."""
    return float(np.linalg.norm(aggregate(np.vstack([H, B]), method, **options) - H.mean(axis=0)))


def max_dist(H, b):
    return max(float(np.linalg.norm(b - x)) for x in H)


def diameter(H):
    return max(float(np.linalg.norm(x - y)) for x in H for y in H)


# ---------------------------------------------------------------- sign flip


def corrupt_as_cli_did(models, k, scale, gen):
    """radonml compare --corrupt K --corrupt-scale s, transcribed from _cli_compare._corrupt
    (commit fb00e97): k random models replaced by -scale * model."""
    if k == 0:
        return models
    out = models.copy()
    idx = gen.choice(models.shape[0], size=k, replace=False)
    out[idx] = -scale * out[idx]
    return out


@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize("k", [0, 1, 3, 8])
@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_sign_flip_reproduces_compare_corrupt(seed, k, scale):
    models = np.random.default_rng(100 + seed).standard_normal((8, 5))
    expected = corrupt_as_cli_did(models, k, scale, np.random.default_rng([seed, 2]))
    out = A.corrupt(models, "sign_flip", f=k, scale=scale, rng=np.random.default_rng([seed, 2]))
    np.testing.assert_array_equal(out.models, expected)
    assert out.f == k
    np.testing.assert_array_equal(out.models[~out.byzantine], models[~out.byzantine])
    # the CLI's stacks are (models, classes, coef + intercept): flattened per model, the same
    stack = np.random.default_rng(200 + seed).standard_normal((8, 3, 4))
    expected = corrupt_as_cli_did(stack, k, scale, np.random.default_rng([seed, 2]))
    out = A.corrupt(stack.reshape(8, -1), "sign_flip", f=k, scale=scale, rng=np.random.default_rng([seed, 2]))
    np.testing.assert_array_equal(out.models.reshape(stack.shape), expected)


def test_sign_flip_hand_cases():
    H = np.array([[1.0, 2.0], [3.0, -4.0]])
    np.testing.assert_array_equal(A.sign_flip(H, 2, of="mean"), [[-2.0, 1.0], [-2.0, 1.0]])
    np.testing.assert_array_equal(A.sign_flip(H, 1, of="mean", scale=3.0), [[-6.0, 3.0]])
    np.testing.assert_array_equal(A.sign_flip(np.empty((0, 2)), 1, own=[[5.0, -1.0]], scale=2.0), [[-10.0, 2.0]])
    with pytest.raises(ValueError, match="own=None"):
        A.sign_flip(H, 1)
    with pytest.raises(ValueError, match="own must have shape"):
        A.sign_flip(H, 2, own=[[1.0, 2.0]])
    with pytest.raises(ValueError, match="scale must be a positive"):
        A.sign_flip(H, 1, of="mean", scale=0.0)
    with pytest.raises(ValueError, match="of must be one of"):
        A.sign_flip(H, 1, of="median")
    with pytest.raises(ValueError, match="at least 1 honest"):
        A.sign_flip(np.empty((0, 2)), 1, of="mean")


# ---------------------------------------------------------------- Gaussian noise


def test_gaussian_noise_formula_and_distribution():
    H, own = gradients(0, f=3)
    # the documented draw: centre + sigma * rng.standard_normal((f, d))
    xi = np.random.default_rng(5).standard_normal((3, H.shape[1]))
    np.testing.assert_allclose(A.gaussian_noise(H, 3, sigma=2.0, own=own, rng=5), own + 2.0 * xi, rtol=0, atol=1e-15)
    np.testing.assert_allclose(A.gaussian_noise(H, 3, sigma=2.0, center="mean", rng=5),
                               H.mean(axis=0) + 2.0 * xi, rtol=0, atol=1e-15)
    # Blanchard et al.'s Gaussian vectors: mean 0, standard deviation sigma
    B = A.gaussian_noise(H, 400, sigma=200.0, center="zero", rng=1)
    assert B.shape == (400, H.shape[1])
    N = B.size
    assert abs(B.mean()) < 4 * 200.0 / np.sqrt(N)
    assert abs(B.std() / 200.0 - 1.0) < 4 / np.sqrt(2 * N)
    with pytest.raises(ValueError, match="sigma must be a positive"):
        A.gaussian_noise(H, 1, sigma=-1.0, center="zero")


# ---------------------------------------------------------------- ALIE


def test_alie_z_from_the_normal_quantile():
    # n = 10, f = 2: s = floor(10/2 + 1) - 2 = 4 supporters, z = Phi^{-1}((10 - 4)/10) = Phi^{-1}(0.6)
    assert A.alie_z(10, 2) == pytest.approx(NormalDist().inv_cdf(0.6), abs=1e-12)
    assert A.alie_z(10, 2) == pytest.approx(0.2533471031357997, abs=1e-12)
    # n = 50, f = 10: s = 26 - 10 = 16, z = Phi^{-1}(34/50)
    assert A.alie_z(50, 10) == pytest.approx(NormalDist().inv_cdf(0.68), abs=1e-12)
    # n = 11, f = 5: s = floor(6.5) - 5 = 1, z = Phi^{-1}(10/11)
    assert A.alie_z(11, 5) == pytest.approx(NormalDist().inv_cdf(10 / 11), abs=1e-12)
    # n = 10, f = 1: s = 5, z = Phi^{-1}(0.5) = 0
    assert A.alie_z(10, 1) == pytest.approx(0.0, abs=1e-15)
    with pytest.raises(ValueError, match="f < floor"):
        A.alie_z(10, 6)
    with pytest.raises(ValueError, match="at most n"):
        A.alie_z(3, 4)


def test_alie_formula():
    H = np.array([[1.0, 2.0], [3.0, 2.0], [5.0, 8.0]])  # mean (3, 4); sample std (2, sqrt(12))
    np.testing.assert_allclose(A.alie(H, 2, z=1.0), [[1.0, 4.0 - np.sqrt(12.0)]] * 2, rtol=0, atol=1e-14)
    z = NormalDist().inv_cdf((5 - (5 // 2 + 1 - 2)) / 5)  # n = 3 + 2 = 5: s = 1, z = Phi^{-1}(0.8)
    np.testing.assert_allclose(A.alie(H, 2), [[3.0 - 2.0 * z, 4.0 - np.sqrt(12.0) * z]] * 2, rtol=1e-12)
    # a large random case against a direct transcription
    H, _ = gradients(3)
    z = NormalDist().inv_cdf((25 - (25 // 2 + 1 - 5)) / 25)
    ref = H.mean(axis=0) - z * np.sqrt(((H - H.mean(axis=0)) ** 2).sum(axis=0) / (len(H) - 1))
    np.testing.assert_allclose(A.alie(H, 5), np.tile(ref, (5, 1)), rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="at least 2 honest"):
        A.alie([[1.0, 2.0]], 1)
    with pytest.raises(ValueError, match="z must be finite"):
        A.alie(H, 1, z=np.inf)


# ---------------------------------------------------------------- IPM, mimic, inf/NaN


def test_ipm_is_minus_epsilon_mean():
    np.testing.assert_allclose(A.ipm([[1.0, 2.0], [3.0, 4.0]], 2, epsilon=0.5), [[-1.0, -1.5]] * 2)
    np.testing.assert_allclose(A.ipm([[1.0, 2.0], [3.0, 4.0]], 1), [[-0.2, -0.3]])  # default epsilon = 0.1
    # the mean (2, 2), not the median (1, 3)
    np.testing.assert_allclose(A.ipm([[0.0, 0.0], [1.0, 3.0], [5.0, 3.0]], 1, epsilon=0.5), [[-1.0, -1.0]])
    # Xie et al.: epsilon > (n - f)/f reverses the mean's inner product with the honest mean
    H, _ = gradients(4, offset=1.0)
    mu = H.mean(axis=0)
    agg = aggregate(np.vstack([H, A.ipm(H, 5, epsilon=20 / 5 + 0.5)]), "mean")
    assert agg @ mu < 0
    with pytest.raises(ValueError, match="epsilon must be a positive"):
        A.ipm(H, 1, epsilon=0)


def test_mimic_heuristic_and_target():
    H = np.array([[0.0, 0.0], [1.0, 0.1], [-3.0, 0.0], [2.0, -0.1]])
    np.testing.assert_array_equal(A.mimic(H, 2), [H[2], H[2]])  # farthest along the first axis
    np.testing.assert_array_equal(A.mimic(H, 1, target=3), [H[3]])
    np.testing.assert_array_equal(A.mimic(H, 1, direction=[0.0, 1.0]), [H[1]])  # |0.1 - 0| ties |-0.1|: first
    # a random case against an independent top eigenvector of the covariance (numpy.linalg.eigh)
    H, _ = gradients(5, n_h=15, d=8)
    C = H - H.mean(axis=0)
    w, V = np.linalg.eigh(C.T @ C)
    i = int(np.argmax(np.abs(C @ V[:, -1])))
    np.testing.assert_array_equal(A.mimic(H, 3), np.tile(H[i], (3, 1)))
    np.testing.assert_array_equal(A.mimic(np.ones((3, 2)), 1), [[1.0, 1.0]])  # identical honest vectors
    with pytest.raises(ValueError, match="target must index"):
        A.mimic(H, 1, target=15)
    with pytest.raises(ValueError, match="not both"):
        A.mimic(H, 1, target=0, direction=np.ones(8))
    with pytest.raises(ValueError, match="zero vector"):
        A.mimic(H, 1, direction=np.zeros(8))


def test_inf_nan_is_rejected_by_aggregate():
    H, _ = gradients(6, n_h=5, d=3)
    B = A.inf_nan(H, 2)
    assert B.shape == (2, 3) and np.all(B == np.inf)
    assert np.all(np.isnan(A.inf_nan(H, 1, value=np.nan)))
    assert np.all(A.inf_nan(H, 1, value=-np.inf) == -np.inf)
    out = A.corrupt(H, "inf_nan", f=2, rng=0)
    assert np.isinf(out.models[out.byzantine]).all() and np.isfinite(out.honest).all()
    with pytest.raises(ValueError, match="must be finite"):
        aggregate(out.models, "median")
    with pytest.raises(ValueError, match="finite"):
        A.inf_nan(H, 1, value=1e308)


# ---------------------------------------------------------------- min-max and min-sum


def test_min_max_hand_case():
    H = [[1.0, 0.0], [-1.0, 0.0]]  # D = 2; b = (0, g): 1 + g^2 = 4, g = sqrt(3)
    np.testing.assert_allclose(A.min_max(H, 2, perturbation=[0.0, 1.0]), [[0.0, np.sqrt(3.0)]] * 2, rtol=1e-15)
    np.testing.assert_allclose(A.min_max(H, 1, perturbation=[0.0, 0.5]), [[0.0, np.sqrt(3.0)]], rtol=1e-15)
    # three points: (0,0), (2,0), (1,0) -> mean (1, 0), D = 2, p = (1, 0): |1 + g - 0| = 2 -> g = 1
    np.testing.assert_allclose(A.min_max([[0.0, 0.0], [2.0, 0.0], [1.0, 0.0]], 1, perturbation=[1.0, 0.0]),
                               [[2.0, 0.0]], rtol=1e-15)


def bisect_gamma(H, p, iters=200):
    """Independent oracle: the largest g with max_i |mu + g p - x_i| <= D, by bisection."""
    mu, D = H.mean(axis=0), diameter(H)
    lo, hi = 0.0, 1.0
    while max_dist(H, mu + hi * p) <= D:
        hi *= 2
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if max_dist(H, mu + mid * p) <= D else (lo, mid)
    return lo


@pytest.mark.parametrize("perturbation", ["unit_vec", "std", "sign"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_min_max_gamma_is_maximal_and_tight(perturbation, seed):
    H, _ = gradients(seed, n_h=12, d=7, offset=0.3)
    mu = H.mean(axis=0)
    p = {"unit_vec": -mu / np.linalg.norm(mu), "std": -H.std(axis=0, ddof=1), "sign": -np.sign(mu)}[perturbation]
    B = A.min_max(H, 3, perturbation=perturbation)
    assert B.shape == (3, 7) and np.all(B == B[0])
    g = float((B[0] - mu) @ p / (p @ p))
    np.testing.assert_allclose(B[0], mu + g * p, rtol=0, atol=1e-12)  # on the ray mu + g p
    D = diameter(H)
    assert max_dist(H, mu + g * p) == pytest.approx(D, rel=1e-10)  # the constraint holds with equality
    assert max_dist(H, mu + g * (1 + 1e-3) * p) > D  # and a larger gamma violates it
    assert g == pytest.approx(bisect_gamma(H, p), rel=1e-9)


def test_min_sum_closed_form():
    np.testing.assert_allclose(A.min_sum([[1.0, 0.0], [-1.0, 0.0]], 1, perturbation=[0.0, 1.0]), [[0.0, 1.0]])
    H, _ = gradients(8, n_h=10, d=4, offset=0.5)
    mu = H.mean(axis=0)
    p = -mu / np.linalg.norm(mu)
    b = A.min_sum(H, 2)[0]
    g = float((b - mu) @ p)
    lhs = lambda g: sum(float(np.sum((mu + g * p - x) ** 2)) for x in H)  # noqa: E731
    rhs = max(sum(float(np.sum((x - y) ** 2)) for y in H) for x in H)
    assert lhs(g) == pytest.approx(rhs, rel=1e-10)
    assert lhs(g * (1 + 1e-3)) > rhs


@pytest.mark.parametrize("seed", range(5))
def test_min_max_moves_the_mean_further_than_alie_and_sign_flip(seed):
    """Shejwalkar & Houmansadr report that min-max beats ALIE (LIE) against the mean (FedAvg);
    in the papers' regime of gradients (a small mean next to the noise) it also beats sign
    flipping at the same f."""
    H, own = gradients(seed)
    f = own.shape[0]
    d_minmax = deviation(H, A.min_max(H, f))
    for B in (A.alie(H, f), A.sign_flip(H, f, own=own), A.sign_flip(H, f, of="mean")):
        assert d_minmax > deviation(H, B)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("method, options", [("median", {}), ("trimmed_mean", {"beta": 0.25}),
                                             ("geometric_median", {})])
def test_aware_min_max_damages_at_least_as_much(seed, method, options):
    H, own = gradients(seed, n_h=12, d=6, f=3, offset=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # Weiszfeld, far-off Byzantine vectors
        agnostic = deviation(H, A.min_max(H, 3), method, **options)
        B = A.min_max(H, 3, aggregator=method, aggregator_options=options or None)
        aware = deviation(H, B, method, **options)
        assert aware >= agnostic * (1 - 1e-12)
        # no gamma in [0, 10 gamma*] on a dense grid does better (up to rounding)
        mu = H.mean(axis=0)
        p = -mu / np.linalg.norm(mu)
        g_star = float((A.min_max(H, 3)[0] - mu) @ p)
        dense = max(deviation(H, np.tile(mu + g * p, (3, 1)), method, **options)
                    for g in np.linspace(0.0, 10 * g_star, 400))
        assert aware >= dense * (1 - 1e-9)


def test_aware_min_max_finds_an_interior_maximum():
    """An aggregator whose deviation t exp(-t / c) (t = |b - mean|) peaks between grid points:
    the golden-section refinement must find t = c."""
    H, _ = gradients(14, n_h=6, d=3)
    mu = H.mean(axis=0)
    c = 3.3

    def damped(models, weights=None):
        r = models[-1] - mu
        return mu + r * np.exp(-np.linalg.norm(r) / c)

    b = A.min_max(H, 1, aggregator=damped, gamma_max=10.0)[0]  # unit_vec: gamma = t
    assert np.linalg.norm(b - mu) == pytest.approx(c, abs=1e-3)


def test_aware_min_max_against_a_distance_filter_is_the_agnostic_attack():
    """A rule that discards any vector farther from an honest one than the honest diameter
    (the min-max constraint) is hurt most exactly at the agnostic gamma*."""
    H, _ = gradients(15, n_h=8, d=4, offset=0.5)
    D = diameter(H)

    def distance_filter(models, weights=None):
        keep = [i for i, x in enumerate(models) if max_dist(H, x) <= D * (1 + 1e-12)]
        return models[keep].mean(axis=0)

    agnostic = A.min_max(H, 2)
    np.testing.assert_allclose(A.min_max(H, 2, aggregator=distance_filter), agnostic, rtol=1e-10)


def test_aware_min_max_against_the_mean_goes_to_gamma_max():
    H, _ = gradients(9, n_h=6, d=3)
    mu = H.mean(axis=0)
    p = -mu / np.linalg.norm(mu)
    np.testing.assert_allclose(A.min_max(H, 2, aggregator="mean", gamma_max=7.5), np.tile(mu + 7.5 * p, (2, 1)),
                               rtol=1e-13)
    g_star = float((A.min_max(H, 2)[0] - mu) @ p)  # default Gamma = 10 gamma*
    np.testing.assert_allclose(A.min_max(H, 2, aggregator="mean"), np.tile(mu + 10 * g_star * p, (2, 1)), rtol=1e-12)


def test_aware_min_max_with_radon_and_callables_is_deterministic():
    H, _ = gradients(10, n_h=14, d=3, offset=0.5)
    a = A.min_max(H, 2, aggregator="radon", rng=3)
    np.testing.assert_array_equal(a, A.min_max(H, 2, aggregator="radon", rng=3))
    b = A.min_max(H, 2, aggregator="radon", aggregator_options={"rng": 11})
    np.testing.assert_array_equal(b, A.min_max(H, 2, aggregator="radon", aggregator_options={"rng": 11}, rng=99))

    def first_row(models, weights=None):
        return models[-1]  # the last row is a Byzantine one: its deviation grows with gamma

    mu = H.mean(axis=0)
    p = -mu / np.linalg.norm(mu)
    np.testing.assert_allclose(A.min_max(H, 1, aggregator=first_row, gamma_max=2.0), [mu + 2.0 * p], rtol=1e-13)


def test_min_max_bad_input():
    H = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]])
    with pytest.raises(ValueError, match="at least 2 honest"):
        A.min_max(H[:1], 1)
    with pytest.raises(ValueError, match="zero vector"):
        A.min_max(np.ones((3, 2)), 1, perturbation="std")
    with pytest.raises(ValueError, match="non-zero honest mean"):
        A.min_max([[1.0, -1.0], [-1.0, 1.0]], 1)
    with pytest.raises(ValueError, match="perturbation must be one of"):
        A.min_max(H, 1, perturbation="random")
    with pytest.raises(ValueError, match="perturbation must have d = 2"):
        A.min_max(H, 1, perturbation=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="pass aggregator= too"):
        A.min_max(H, 1, gamma_max=3.0)
    with pytest.raises(ValueError, match="gamma_max must be a positive"):
        A.min_max(H, 1, aggregator="median", gamma_max=-1.0)
    with pytest.raises(ValueError, match="unknown aggregator"):
        A.min_max(H, 1, aggregator="krum_typo")
    with pytest.raises(TypeError, match="aggregator_options must be a dict"):
        A.min_max(H, 1, aggregator="median", aggregator_options=[("beta", 0.1)])
    with pytest.raises(ValueError, match="n_grid must be >= 2"):
        A.min_max(H, 1, aggregator="median", n_grid=1)
    with pytest.raises(ValueError, match="must be finite"):
        A.min_max([[1.0, np.nan], [2.0, 3.0]], 1)


# ---------------------------------------------------------------- label flip


def test_label_flip():
    np.testing.assert_array_equal(A.label_flip([0, 1, 2, 9, 9], 10), [9, 8, 7, 0, 0])
    y = np.array([0, 1, 2], dtype=np.int32)
    out = A.label_flip(y, 3)
    assert out.dtype == np.int32 and out.tolist() == [2, 1, 0]
    np.testing.assert_array_equal(A.label_flip([0, 1, 2, 3], 4, permutation=[1, 0, 3, 2]), [1, 0, 3, 2])
    np.testing.assert_array_equal(A.label_flip(["b", "a", "c"], ["a", "b", "c"]), ["b", "c", "a"])
    np.testing.assert_array_equal(A.label_flip([1.0, 0.0], 2), [0, 1])
    with pytest.raises(ValueError, match="not among classes"):
        A.label_flip([0, 3], 3)
    with pytest.raises(ValueError, match="permutation must be a permutation"):
        A.label_flip([0, 1], 2, permutation=[0, 0])
    with pytest.raises(ValueError, match="distinct"):
        A.label_flip([0], [0, 0, 1])
    with pytest.raises(ValueError, match="classes must be >= 2"):
        A.label_flip([0], 1)
    with pytest.raises(ValueError, match="1-dimensional"):
        A.label_flip([[0, 1]], 2)


# ---------------------------------------------------------------- corrupt, Attack, registry


def test_every_registered_attack_is_deterministic_given_the_seed():
    assert set(MODEL_ATTACKS) <= set(A.available_attacks("model"))
    assert A.available_attacks("data") == ["label_flip"]
    assert A.available_attacks() == sorted(A.available_attacks())
    H, _ = gradients(11, n_h=12, d=4)
    for name in A.available_attacks("model"):
        a, b = A.corrupt(H, name, f=3, rng=42), A.corrupt(H, name, f=3, rng=42)
        np.testing.assert_array_equal(a.models, b.models)
        np.testing.assert_array_equal(a.byzantine, b.byzantine)
        assert a.f == 3 and a.models.shape == H.shape and a.attack == name
        np.testing.assert_array_equal(a.honest, H[~a.byzantine])
    masks = {tuple(A.corrupt(H, "ipm", f=3, rng=s).indices) for s in range(6)}
    assert len(masks) > 1  # the seed chooses the rows
    g1 = A.corrupt(H, "gaussian_noise", byzantine=[0, 1], rng=1).models
    g2 = A.corrupt(H, "gaussian_noise", byzantine=[0, 1], rng=2).models
    assert not np.array_equal(g1, g2)


def test_corrupt_rows_and_result():
    H = np.arange(12.0).reshape(4, 3)
    out = A.corrupt(H, "ipm", byzantine=np.array([False, True, False, True]), epsilon=1.0)
    np.testing.assert_array_equal(out.indices, [1, 3])
    np.testing.assert_array_equal(out.models[[1, 3]], [-H[[0, 2]].mean(axis=0)] * 2)
    same = A.corrupt(H, "ipm", byzantine=[3, 1], f=2, epsilon=1.0)
    np.testing.assert_array_equal(same.models, out.models)
    assert repr(out) == "Corruption(attack='ipm', n=4, d=3, f=2, byzantine=[1, 3], epsilon=1.0)"
    d = json.loads(json.dumps(out.to_dict()))
    assert d["byzantine"] == [1, 3] and d["f"] == 2 and d["params"] == {"epsilon": 1.0}
    np.testing.assert_array_equal(d["models"], out.models)
    zero = A.corrupt(H, "alie", f=0, rng=0)  # f = 0: nothing to attack, the attack is not called
    np.testing.assert_array_equal(zero.models, H)
    assert zero.f == 0 and zero.models is not H
    every = A.corrupt(H, "sign_flip", f=4, rng=0)  # all learners Byzantine: fine for a local attack
    np.testing.assert_array_equal(every.models, -H)
    # composes with the aggregators: the mean moves, the median of 4 honest + 1 far vector stays bounded
    X, _ = gradients(12, n_h=5, d=2)
    far = A.corrupt(X, "sign_flip", byzantine=[4], scale=1e6).models
    assert np.linalg.norm(aggregate(far, "mean")) > 1e4
    assert np.all(np.abs(aggregate(far, "median")) <= np.abs(X).max())


def test_corrupt_bad_input():
    H = np.arange(12.0).reshape(4, 3)
    with pytest.raises(ValueError, match="give f"):
        A.corrupt(H, "ipm")
    with pytest.raises(ValueError, match="at most the number of models n = 4"):
        A.corrupt(H, "ipm", f=5)
    with pytest.raises(ValueError, match=">= 0"):
        A.corrupt(H, "ipm", f=-1)
    with pytest.raises(TypeError, match="f must be an integer"):
        A.corrupt(H, "ipm", f=1.5)
    with pytest.raises(TypeError, match="f must be an integer"):
        A.corrupt(H, "ipm", f=True)
    with pytest.raises(ValueError, match="disagrees"):
        A.corrupt(H, "ipm", f=1, byzantine=[0, 1])
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        A.corrupt(H, "ipm", byzantine=[True, False])
    with pytest.raises(ValueError, match=r"lie in \[0, 4\)"):
        A.corrupt(H, "ipm", byzantine=[4])
    with pytest.raises(ValueError, match="distinct"):
        A.corrupt(H, "ipm", byzantine=[1, 1])
    with pytest.raises(TypeError, match="boolean mask or integer"):
        A.corrupt(H, "ipm", byzantine=[0.5])
    with pytest.raises(ValueError, match="must be finite"):
        A.corrupt(np.array([[1.0, np.inf], [0.0, 0.0]]), "ipm", f=1)
    with pytest.raises(ValueError, match="2-dimensional"):
        A.corrupt(np.ones(3), "ipm", f=1)
    with pytest.raises(ValueError, match="unknown attack 'alice'"):
        A.corrupt(H, "alice", f=1)
    with pytest.raises(TypeError, match="has no parameter"):
        A.corrupt(H, "ipm", f=1, eps=0.2)
    with pytest.raises(TypeError, match="'own' is supplied"):
        A.corrupt(H, "sign_flip", f=1, own=H[:1])
    with pytest.raises(ValueError, match="data-level"):
        A.corrupt(H, "label_flip", f=1, classes=3)
    with pytest.raises(TypeError, match="rng must be"):
        A.corrupt(H, "ipm", f=1, rng="seed")
    with pytest.raises(ValueError, match="at least 2 honest"):
        A.corrupt(H, "alie", f=3, rng=0)


def test_register_your_own_attack():
    def shift(honest, f, *, by=1.0):
        return np.tile(honest.max(axis=0) + by, (f, 1))

    A.register_attack("test_shift", shift)
    try:
        assert "test_shift" in A.available_attacks("model")
        out = A.corrupt([[0.0], [1.0], [5.0]], "test_shift", byzantine=[2], by=2.0)
        np.testing.assert_array_equal(out.models.ravel(), [0.0, 1.0, 3.0])
        assert A.attack_info(shift).name == "test_shift"  # the function finds its entry
        with pytest.raises(ValueError, match="already registered"):
            A.register_attack("test_shift", shift)
        A.register_attack("test_shift", lambda honest, f: np.zeros((f + 1, honest.shape[1])), overwrite=True)
        with pytest.raises(ValueError, match=r"returned shape \(2, 1\), expected \(f, d\) = \(1, 1\)"):
            A.corrupt([[0.0], [1.0]], "test_shift", f=1, rng=0)
    finally:
        A._REGISTRY.pop("test_shift", None)
    # an unregistered callable
    out = A.corrupt([[1.0], [2.0]], lambda honest, f: np.full((f, 1), 7.0), byzantine=[0])
    np.testing.assert_array_equal(out.models.ravel(), [7.0, 2.0])
    with pytest.raises(TypeError, match="kind must be a string"):
        A.register_attack("x", shift, kind=3)
    with pytest.raises(ValueError, match="kind must be one of"):
        A.register_attack("x", shift, kind="gradient")
    with pytest.raises(TypeError, match="fn must be callable"):
        A.register_attack("x", 3)
    with pytest.raises(TypeError, match="takes_own must be True or False"):
        A.register_attack("x", shift, takes_own="yes")
    with pytest.raises(TypeError, match="registered attack name or a callable"):
        A.attack_info(3)


def test_attack_object():
    H, _ = gradients(13, n_h=9, d=3)
    atk = A.Attack("min_max", f=2, perturbation="std")
    assert repr(atk) == "Attack('min_max', f=2, perturbation='std')"
    assert atk.kind == "model" and atk.info.knows_aggregator
    out = atk(H, rng=4)
    ref = A.corrupt(H, "min_max", f=2, rng=4, perturbation="std")
    np.testing.assert_array_equal(out.models, ref.models)
    np.testing.assert_array_equal(atk.select(9, rng=4), ref.byzantine)
    np.testing.assert_array_equal(atk(H, byzantine=[0, 8]).indices, [0, 8])
    np.testing.assert_array_equal(atk(H, byzantine=[5]).indices, [5])  # a round's own rows replace f
    assert copy.deepcopy(atk) == atk and atk != A.Attack("min_max", f=3, perturbation="std")
    assert json.loads(json.dumps(atk.to_dict())) == {"attack": "min_max", "f": 2, "params": {"perturbation": "std"}}
    with pytest.raises(TypeError, match="has no parameter"):
        A.Attack("alie", f=1, epsilon=0.1)  # checked when chosen, not when first used
    with pytest.raises(ValueError, match="data-level"):
        A.Attack("label_flip", f=1, classes=2)(H)
    flip = A.Attack("label_flip", f=2)
    X = np.zeros((3, 1))
    X2, y2 = flip.corrupt_data(X, np.array([0, 1, 2]), classes=3)  # classes known where the data is
    assert X2 is X and y2.tolist() == [2, 1, 0]
    assert flip.select(5, rng=0).sum() == 2
    with pytest.raises(ValueError, match="model-level"):
        atk.corrupt_data(X, np.zeros(3))
    with pytest.raises(ValueError, match="label_flip needs classes="):
        flip.corrupt_data(X, np.array([0, 1]))



# ------------------------------------------------------------------ corrupt with an Attack


def test_corrupt_takes_an_attack_with_its_f_and_parameters():
    H = np.random.default_rng(5).standard_normal((7, 3))
    got = A.corrupt(H, A.Attack("ipm", f=2, epsilon=0.5), rng=0)
    mask = got.byzantine
    # the rows: the first draw of the generator, rng.choice(n, f, replace=False)
    assert np.array_equal(mask, np.isin(np.arange(7), np.random.default_rng(0).choice(7, 2, replace=False)))
    # IPM (Xie et al. 2020): b = -epsilon * mean of the honest vectors
    np.testing.assert_allclose(got.models[mask], np.tile(-0.5 * H[~mask].mean(axis=0), (2, 1)), rtol=1e-12)
    np.testing.assert_array_equal(got.models[~mask], H[~mask])
    same = A.corrupt(H, "ipm", f=2, epsilon=0.5, rng=0)
    np.testing.assert_array_equal(got.models, same.models)
    # byzantine takes the place of the Attack's f, as in Attack.__call__
    rows = A.corrupt(H, A.Attack("ipm", f=2, epsilon=0.5), byzantine=[1, 3, 6]).byzantine
    assert rows.nonzero()[0].tolist() == [1, 3, 6]
    # the same f or parameter given twice is fine; parameters add to the Attack's
    assert A.corrupt(H, A.Attack("ipm", f=2), f=2, epsilon=0.5, rng=0).models.tolist() == same.models.tolist()


def test_corrupt_refuses_an_attack_contradicted():
    H = np.random.default_rng(5).standard_normal((7, 3))
    with pytest.raises(ValueError, match=r"f=5 differs from the Attack's f=2"):
        A.corrupt(H, A.Attack("ipm", f=2), f=5, rng=0)
    with pytest.raises(ValueError, match=r"epsilon=0.1 differs from the Attack's epsilon=0.5"):
        A.corrupt(H, A.Attack("ipm", f=2, epsilon=0.5), epsilon=0.1, rng=0)
    with pytest.raises(ValueError, match="give f"):  # an Attack without f, and no f or byzantine here
        A.corrupt(H, A.Attack("ipm"), rng=0)
