"""Byzantine learners in the federated simulator (simulate(..., attack=...)): the attacked rows
are radonml.attacks.corrupt applied to exactly the honest rows the coordinator received (recomputed
here from what the aggregator was handed), in every protocol; f = 0 is the clean run bit for bit;
attacks change no message or byte count; seeds reproduce runs; a sign-flip minority ruins the mean
but not the median or Krum."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from radonml.attacks import Attack, corrupt, label_flip  # noqa: E402
from radonml.datasets import load_digits  # noqa: E402
from radonml.exceptions import RadonmlWarning  # noqa: E402
from radonml.federated import (  # noqa: E402
    DynamicAveraging,
    LayerwiseAveraging,
    MiniBatchSGD,
    PeriodicAveraging,
    RadonOneShot,
    make_learners,
    make_mlp,
    simulate,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def digits():
    return load_digits(seed=0)


def _learners(ds, m=10, hidden=(), seed=0, lr=0.2):
    model = make_mlp(ds.n_features, list(hidden), ds.n_classes, seed=seed)
    return make_learners(model, ds.X_train.astype(np.float32), ds.y_train, m, X_test=ds.X_test.astype(np.float32),
                         y_test=ds.y_test, seed=seed, lr=lr)


@pytest.fixture(scope="module")
def learners(digits):
    return _learners(digits)


@pytest.fixture(scope="module")
def small(digits):
    """6 learners of a one-hidden-layer MLP (two layers for layer-wise averaging)."""
    return _learners(digits, m=6, hidden=(8,))


class Recorder:
    """A real aggregator (the plain mean) that keeps every stack it is handed and its result."""

    def __init__(self):
        self.stacks, self.outputs = [], []

    def __call__(self, models):
        self.stacks.append(models.copy())
        out = models.mean(axis=0)
        self.outputs.append(out)
        return out


def _f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def _rows(entry):
    return np.isin(entry["learners"], entry["byzantine"])


# ---------------------------------------------------------------- the attack's effect


def test_a_sign_flip_minority_ruins_the_mean_but_not_the_median_or_krum(learners):
    attack = Attack("sign_flip", f=3, scale=4.0)
    clean = simulate(PeriodicAveraging(5), learners, steps=100, steps_per_round=100).final["accuracy"]
    acc = {}
    for name, opts in (("mean", {}), ("median", {}), ("krum", {"f": 3})):
        h = simulate(PeriodicAveraging(5, method=name, **opts), learners, steps=100, steps_per_round=100,
                     attack=attack, attack_rng=0)
        acc[name] = h.final["accuracy"]
        assert len(h.byzantine) == 3 and h.final["replaced"] == 3 * 20
    assert clean > 0.85
    assert acc["mean"] < 0.3  # (7 - 4 * 3) / 10 < 0: the mean steps uphill
    assert acc["median"] > 0.8 and acc["krum"] > 0.8


# ---------------------------------------------------------------- the rows are corrupt(...) of the honest rows


@pytest.mark.parametrize("attack", [Attack("ipm", f=3, epsilon=0.5), Attack("alie", f=3),
                                    Attack("gaussian_noise", f=3, center="mean", sigma=0.1), Attack("mimic", f=3),
                                    Attack("min_max", f=3, aggregator="median")])
@pytest.mark.parametrize("attack_on", ["update", "model"])
def test_periodic_rows_are_the_attack_on_the_honest_rows_received(learners, attack, attack_on):
    rec = Recorder()
    h = simulate(PeriodicAveraging(5, method=rec), learners, steps=20, attack=attack, attack_on=attack_on,
                 attack_rng=7)
    assert len(rec.stacks) == 4 and [e["aggregation"] for e in h.attack_log] == [0, 1, 2, 3]
    prev = learners.theta0.double().numpy()
    for j, (S, e) in enumerate(zip(rec.stacks, h.attack_log)):
        rows = _rows(e)
        assert e["learners"] == list(range(10)) and e["byzantine"] == h.byzantine
        G = prev if attack_on == "update" else 0.0  # the global model each learner was sent
        want = corrupt(S - G, attack.name, byzantine=rows, rng=np.random.default_rng([7, 1, j]), **attack.params)
        np.testing.assert_array_equal(S[rows], _f32(want.models[rows] + G))
        prev = _f32(rec.outputs[j])  # what the coordinator sends (in the learners' dtype)


def test_own_model_attacks_see_the_honest_models_of_the_byzantine_learners(learners):
    """sign_flip corrupts the Byzantine learners' own models: the first aggregation of the clean run
    holds them (before the first aggregation both runs are the same)."""
    clean, attacked = Recorder(), Recorder()
    simulate(PeriodicAveraging(5, method=clean), learners, steps=5)
    h = simulate(PeriodicAveraging(5, method=attacked), learners, steps=5, attack=Attack("sign_flip", f=4, scale=3.0),
                 attack_rng=1)
    rows = np.isin(np.arange(10), h.byzantine)
    G = learners.theta0.double().numpy()
    want = corrupt(clean.stacks[0] - G, "sign_flip", byzantine=rows, scale=3.0).models + G
    np.testing.assert_array_equal(attacked.stacks[0][rows], _f32(want[rows]))
    np.testing.assert_array_equal(attacked.stacks[0][~rows], clean.stacks[0][~rows])


def test_partial_participation_attacks_only_the_sampled_byzantine_learners(learners):
    rec = Recorder()
    h = simulate(PeriodicAveraging(5, fraction=0.5, method=rec), learners, steps=30, attack=Attack("ipm", f=4),
                 attack_rng=3, attack_on="model")
    logged = {e["aggregation"]: e for e in h.attack_log}
    assert len(rec.stacks) == 6
    for j, S in enumerate(rec.stacks):
        assert S.shape[0] == 5
        e = logged.get(j)
        if e is None:  # no Byzantine learner sampled in this round: the rows are the honest models
            continue
        assert set(e["byzantine"]) == set(e["learners"]) & set(h.byzantine)
        rows = _rows(e)
        want = corrupt(S, "ipm", byzantine=rows, rng=np.random.default_rng([3, 1, j]))
        np.testing.assert_array_equal(S[rows], _f32(want.models[rows]))


def test_minibatch_sgd_attacks_the_gradients(learners):
    rec = Recorder()
    h = simulate(MiniBatchSGD(method=rec), learners, steps=4, attack=Attack("alie", f=2, z=1.5), attack_rng=2)
    assert len(h.attack_log) == 4
    for j, (S, e) in enumerate(zip(rec.stacks, h.attack_log)):
        rows = _rows(e)
        want = corrupt(S, "alie", byzantine=rows, z=1.5)  # gradients: no reference model, whatever attack_on says
        np.testing.assert_array_equal(S[rows], _f32(want.models[rows]))


def test_layerwise_averaging_attacks_the_averaged_columns(small):
    rec = Recorder()
    h = simulate(LayerwiseAveraging(["0"], 5, method=rec), small, steps=15, attack=Attack("ipm", f=2, epsilon=2.0),
                 attack_rng=4)
    cols = np.r_[small.slices["0.weight"].start:small.slices["0.bias"].stop]
    prev = small.theta0.double().numpy()[cols]
    for j, (S, e) in enumerate(zip(rec.stacks, h.attack_log)):
        assert S.shape == (6, cols.size)
        rows = _rows(e)
        want = corrupt(S - prev, "ipm", byzantine=rows, epsilon=2.0).models + prev
        np.testing.assert_array_equal(S[rows], _f32(want[rows]))
        prev = _f32(rec.outputs[j])


def test_one_shot_attacks_the_final_models(learners):
    rec = Recorder()
    h = simulate(RadonOneShot(method=rec), learners, steps=10, attack=Attack("min_sum", f=3), attack_rng=5)
    (S,) = rec.stacks
    (e,) = h.attack_log
    rows = _rows(e)
    G = learners.theta0.double().numpy()  # the one model the coordinator ever sent: the initial one
    want = corrupt(S - G, "min_sum", byzantine=rows).models + G
    np.testing.assert_array_equal(S[rows], _f32(want[rows]))


def test_dynamic_averaging_attacks_every_aggregate_of_a_balancing(digits):
    """Dynamic averaging's aggregates (balancing tries, full synchronisations) are attacked with the
    reference of each learner: the last aggregate the coordinator sent it (reconstructed here from
    the protocol's own record of its resolutions)."""
    model = make_mlp(digits.n_features, [], digits.n_classes, seed=0)
    learners = make_learners(model, digits.X_train.astype(np.float32), digits.y_train, 10, split="dirichlet",
                             alpha=0.3, seed=0, lr=0.2)
    rec = Recorder()
    proto = DynamicAveraging(3.0, method=rec)
    h = simulate(proto, learners, steps=60, attack=Attack("ipm", f=3, epsilon=0.5), attack_rng=6)
    outcomes = [(r["outcome"], r["tries"]) for r in proto.resolutions]
    assert ("balanced", 1) in outcomes and ("full", 2) in outcomes  # a balancing, and one that grew into a full sync
    logged = {e["aggregation"]: e for e in h.attack_log}
    ref = np.repeat(learners.theta0.double().numpy()[None], 10, axis=0)
    j = 0
    for res in proto.resolutions:
        for _ in range(res["tries"]):
            S = rec.stacks[j]
            e = logged.get(j)
            if e is not None:
                rows = _rows(e)
                G = ref[e["learners"]]
                want = corrupt(S - G, "ipm", byzantine=rows, epsilon=0.5).models + G
                np.testing.assert_array_equal(S[rows], _f32(want[rows]))
            j += 1
        ref[res["set"]] = _f32(rec.outputs[j - 1])  # the last aggregate goes to the resolution's set
    assert j == len(rec.stacks) and logged


# ---------------------------------------------------------------- data-level attacks, dropped messages


def test_label_flip_corrupts_exactly_the_byzantine_shards(learners):
    h = simulate(PeriodicAveraging(5), learners, steps=5, attack=Attack("label_flip", f=3), attack_rng=0)
    L = h.learners
    for i in range(10):
        o, n = int(L.offsets[i]), int(L.n_samples[i])
        y0 = learners.y[o:o + n].numpy()
        want = label_flip(y0, 10) if i in h.byzantine else y0
        np.testing.assert_array_equal(L.y[o:o + n].numpy(), want)
    np.testing.assert_array_equal(L.X.numpy(), learners.X.numpy())
    assert h.final["replaced"] == 0 and h.attack_log == []
    assert learners.y is not L.y  # the caller's learners keep their data


def test_non_finite_messages_are_dropped_and_f_shrinks_with_them(learners):
    # krum with f = 3 needs 9 models; after dropping 3 inf messages it gets 7 with f = 0, so no fallback
    h = simulate(PeriodicAveraging(5, method="krum", f=3), learners, steps=20, attack=Attack("inf_nan", f=3),
                 attack_rng=0)
    assert h.final["dropped"] == 12 and h.final["replaced"] == 12
    assert all(sorted(e["dropped"]) == h.byzantine for e in h.attack_log)
    assert np.isfinite(h.final_model).all() and h.final["accuracy"] > 0.5  # chance: 0.1


def test_all_messages_non_finite_raises(learners):
    with pytest.raises(ValueError, match="every one of the 10 messages"):
        simulate(PeriodicAveraging(5), learners, steps=5, attack=Attack("inf_nan", f=10))


def test_an_attack_that_cannot_run_leaves_the_messages_honest_with_a_warning(learners):
    # ALIE needs two honest rows; with 9 of 10 learners Byzantine it cannot run
    with pytest.warns(RadonmlWarning, match="cannot run"):
        h = simulate(PeriodicAveraging(5), learners, steps=5, attack=Attack("alie", f=9))
    (e,) = h.attack_log
    assert "skipped" in e and e["byzantine"] == [] and h.final["replaced"] == 0
    assert h.final_model.tolist() == simulate(PeriodicAveraging(5), learners, steps=5).final_model.tolist()


# ---------------------------------------------------------------- who is Byzantine


def test_byzantine_learners_fixed_by_seed_or_given(learners):
    a = simulate(PeriodicAveraging(5), learners, steps=10, attack=Attack("ipm", f=3), attack_rng=11)
    want = np.flatnonzero(Attack("ipm", f=3).select(10, rng=np.random.default_rng([11, 0]))).tolist()
    assert a.byzantine == want
    b = simulate(PeriodicAveraging(5), learners, steps=10, attack="ipm", byzantine=[0, 4])
    assert b.byzantine == [0, 4] and all(e["byzantine"] == [0, 4] for e in b.attack_log)
    mask = np.zeros(10, dtype=bool)
    mask[[2, 3]] = True
    c = simulate(PeriodicAveraging(5), learners, steps=10, attack=Attack("ipm", f=2), byzantine=mask)
    assert c.byzantine == [2, 3]


def test_byzantine_drawn_per_round(learners):
    rec = Recorder()
    h = simulate(PeriodicAveraging(2, method=rec), learners, steps=20, attack=Attack("ipm", f=3), byzantine="per_round",
                 attack_rng=5)
    assert h.byzantine is None and h.attack["byzantine"] == "per_round"
    sets = []
    for e in h.attack_log:
        rows = np.zeros(10, dtype=bool)
        rows[np.random.default_rng([5, 1, e["aggregation"]]).choice(10, size=3, replace=False)] = True
        assert e["byzantine"] == np.flatnonzero(rows).tolist()
        sets.append(tuple(e["byzantine"]))
    assert len(sets) == 10 and len(set(sets)) > 5


def test_per_round_caps_f_at_the_rows_of_an_aggregation(learners):
    h = simulate(PeriodicAveraging(5, fraction=0.2), learners, steps=10, attack=Attack("sign_flip", f=5),
                 byzantine="per_round")
    assert all(len(e["byzantine"]) == 2 == len(e["learners"]) for e in h.attack_log)


# ---------------------------------------------------------------- clean runs, counts, seeds


PROTOCOLS = [
    lambda: PeriodicAveraging(5),
    lambda: PeriodicAveraging(5, fraction=0.5, method="median"),
    lambda: MiniBatchSGD(),
    lambda: DynamicAveraging(0.05),
    lambda: LayerwiseAveraging(["0"], 5),
    lambda: RadonOneShot(method="geometric_median"),
]


@pytest.mark.parametrize("make", PROTOCOLS)
@pytest.mark.parametrize("attack", [Attack("sign_flip", f=0, scale=4.0), Attack("label_flip", f=0)])
def test_f_zero_is_the_clean_run_bit_for_bit(small, make, attack):
    clean = simulate(make(), small, steps=20, steps_per_round=5)
    h = simulate(make(), small, steps=20, steps_per_round=5, attack=attack, attack_rng=3)
    np.testing.assert_array_equal(h.final_model, clean.final_model)
    np.testing.assert_array_equal(h.learners.theta.numpy(), clean.learners.theta.numpy())
    for r, c in zip(h.records, clean.records):
        r = {k: v for k, v in r.items() if k not in ("time", "replaced", "dropped")}
        assert r == {k: v for k, v in c.items() if k != "time"}
    assert h.byzantine == [] and h.attack_log == []


@pytest.mark.parametrize("make", [PROTOCOLS[0], PROTOCOLS[1], PROTOCOLS[2], PROTOCOLS[4], PROTOCOLS[5]])
def test_attackers_send_messages_of_the_honest_sizes(small, make):
    clean = simulate(make(), small, steps=20, steps_per_round=5)
    h = simulate(make(), small, steps=20, steps_per_round=5, attack=Attack("sign_flip", f=2, scale=4.0))
    assert h.final["replaced"] > 0
    for key in ("messages", "bytes_up", "bytes_down", "syncs"):
        np.testing.assert_array_equal(h[key], clean[key])


def test_seeds_reproduce_a_run_and_change_it(small):
    kw = dict(steps=20, attack=Attack("gaussian_noise", f=2, sigma=0.5))
    a = simulate(PeriodicAveraging(5), small, attack_rng=1, **kw)
    b = simulate(PeriodicAveraging(5), small, attack_rng=1, **kw)
    c = simulate(PeriodicAveraging(5), small, attack_rng=2, **kw)
    np.testing.assert_array_equal(a.final_model, b.final_model)
    assert a.attack_log == b.attack_log and a.to_dict()["records"][-1]["loss"] == b.to_dict()["records"][-1]["loss"]
    assert not np.array_equal(a.final_model, c.final_model)
    # the protocol's own randomness is untouched by the attack: the clean draws of client sampling
    s1 = simulate(PeriodicAveraging(5, fraction=0.5), small, steps=20)
    s2 = simulate(PeriodicAveraging(5, fraction=0.5), small, steps=20, attack=Attack("ipm", f=0))
    np.testing.assert_array_equal(s1.final_model, s2.final_model)


def test_history_records_the_attack(small):
    h = simulate(PeriodicAveraging(5), small, steps=10, attack=Attack("ipm", f=2, epsilon=0.2), attack_rng=9)
    d = h.to_dict()
    assert d["attack"] == {"attack": "ipm", "f": 2, "params": {"epsilon": 0.2}, "byzantine": "fixed",
                           "attack_on": "update", "attack_rng": 9}
    assert d["byzantine"] == h.byzantine and d["attack_log"] == h.attack_log
    assert "attack" not in simulate(PeriodicAveraging(5), small, steps=5).to_dict()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(attack="ipm"), ValueError, "the attack has no f"),
        (dict(attack=Attack("ipm", f=2), byzantine=[0]), ValueError, "disagrees with byzantine"),
        (dict(attack=Attack("ipm", f=7)), ValueError, "exceeds the number of learners m = 6"),
        (dict(attack="ipm", byzantine=[0, 6]), ValueError, r"must lie in \[0, 6\)"),
        (dict(attack="ipm", byzantine=[1, 1]), ValueError, "distinct"),
        (dict(attack="ipm", byzantine=[0.5]), TypeError, "byzantine must be"),
        (dict(attack=Attack("label_flip", f=1), byzantine="per_round"), ValueError, "fixed for the run"),
        (dict(attack="ipm", byzantine="per_round"), ValueError, "draws attack.f"),
        (dict(attack=Attack("ipm", f=1), byzantine="each"), ValueError, "'per_round'"),
        (dict(attack=Attack("ipm", f=1), attack_on="gradient"), ValueError, "attack_on must be one of"),
        (dict(byzantine=[0]), ValueError, "used only with attack="),
        (dict(attack_rng=1), ValueError, "used only with attack="),
        (dict(attack=3), TypeError, "attack must be an attack name"),
        (dict(attack="nope"), ValueError, "unknown attack"),
    ],
)
def test_bad_attack_arguments(small, kwargs, error, match):
    with pytest.raises(error, match=match):
        simulate(PeriodicAveraging(5), small, steps=5, **kwargs)
