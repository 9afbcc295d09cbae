"""radonml.federated with BatchNorm models: local steps update each learner's running statistics
as a plain loop of nn.Modules in train mode does; evaluation uses them; coordinators aggregate
them with the parameters (the one buffer policy, checked against radonml.torch.aggregate_modules);
bytes count them (issue 9 kind 2)."""

import copy
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from radonml.federated import (  # noqa: E402
    DynamicAveraging,
    Learners,
    MiniBatchSGD,
    NoSync,
    PeriodicAveraging,
    simulate,
)
from radonml.torch import aggregate_modules, lower_median, state_arrays, state_layout  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CE = nn.functional.cross_entropy


def _mlp_bn(momentum=0.1, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8, momentum=momentum), nn.ReLU(), nn.Linear(8, 3))
    with torch.no_grad():  # non-trivial affine parameters and statistics at the start
        net[1].weight.uniform_(0.5, 1.5)
        net[1].bias.uniform_(-0.2, 0.2)
        net[1].running_mean.uniform_(-0.1, 0.1)
        net[1].running_var.uniform_(0.8, 1.2)
    return net.to(dtype)


def _cnn_bn(seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Unflatten(1, (1, 4, 4)), nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(),
        nn.Flatten(), nn.Linear(48, 6), nn.BatchNorm1d(6, momentum=None), nn.ReLU(), nn.Linear(6, 3),
    ).to(dtype)


def _data(n_features, m=4, n=30, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    shards = []
    for i in range(m):
        k = n + 3 * i  # unequal shards: unequal weights
        X = rng.normal(size=(k, n_features)) + 0.3 * i
        shards.append((X.astype(dtype), rng.integers(0, 3, size=k)))
    Xt = rng.normal(size=(50, n_features)).astype(dtype)
    return shards, Xt, rng.integers(0, 3, size=50)


def _loop(model, shards, steps, *, lr, batch_size, seed, masks=None):
    """The reference: one nn.Module per learner, plain autograd SGD in train mode on the documented
    mini-batch draws (per step, batch_size uniforms per stepping learner from default_rng(seed))."""
    rng = np.random.default_rng(seed)
    mods = [copy.deepcopy(model).train() for _ in shards]
    for t in range(steps):
        rows = range(len(shards)) if masks is None else np.flatnonzero(masks[t])
        u = rng.random((len(rows), batch_size))
        for j, i in enumerate(rows):
            X, y = shards[i]
            idx = (u[j] * len(y)).astype(np.int64)
            mod = mods[i]
            loss = CE(mod(torch.as_tensor(X[idx])), torch.as_tensor(y[idx]))
            grads = torch.autograd.grad(loss, list(mod.parameters()))
            with torch.no_grad():
                for p, g in zip(mod.parameters(), grads):
                    p -= lr * g
    return mods


def _rows(mods):
    lay = state_layout(mods[0])
    return lay.stack([state_arrays(m) for m in mods])


@pytest.mark.parametrize("build,n_features", [(_mlp_bn, 5), (lambda: _mlp_bn(momentum=None), 5), (_cnn_bn, 16)])
def test_local_steps_update_running_statistics_as_a_loop_of_modules(build, n_features):
    model = build()
    shards, _, _ = _data(n_features)
    L = Learners(model, shards, lr=0.2, batch_size=7, seed=3)
    assert L.d == state_layout(model).n_aggregated > sum(p.numel() for p in model.parameters())
    masks = np.ones((6, 4), dtype=bool)
    masks[2, [0, 3]] = False  # some learners idle on some steps
    masks[4, 1] = False
    for mask in masks:
        L.local_step(mask)
    mods = _loop(model, shards, 6, lr=0.2, batch_size=7, seed=3, masks=masks)
    np.testing.assert_allclose(L.theta.numpy(), _rows(mods), rtol=1e-9, atol=1e-12)
    # the running statistics moved, and differ between learners
    cols = L.buffer_columns
    assert float((L.theta[:, cols] - L.theta0[cols]).abs().min()) > 0
    for name, t in L.int_buffers.items():
        assert t.tolist() == [int(m.state_dict()[name]) for m in mods] == [5, 5, 6, 5]
    for i, mod in enumerate(mods):  # learner_module rebuilds the same module, a plain one
        got = L.learner_module(i)
        for k, v in state_arrays(got).items():
            np.testing.assert_allclose(v, state_arrays(mod)[k], rtol=1e-12, atol=1e-14)
        assert not any("forward" in vars(sub) for sub in got.modules())
    pickle.loads(pickle.dumps(L.learner_module(0)))


def test_float32_local_steps_within_1e6_of_the_loop():
    model = _mlp_bn(dtype=torch.float32)
    shards, _, _ = _data(5, dtype=np.float32)
    L = Learners(model, shards, lr=0.2, batch_size=7, seed=1)
    for _ in range(5):
        L.local_step()
    np.testing.assert_allclose(L.theta.double().numpy(), _rows(_loop(model, shards, 5, lr=0.2, batch_size=7, seed=1)),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_full_batch_steps_and_gradients_with_batchnorm(momentum):
    model = _mlp_bn(momentum=momentum)
    shards, _, _ = _data(5, m=3)
    L = Learners(model, shards, lr=0.3, batch_size=None)
    mods = [copy.deepcopy(model).train() for _ in shards]
    for t, mask in enumerate(([True, False, True], [True, True, True])):  # counters differ at the second step
        before = L.theta.clone()
        g = L.gradients()
        L.local_step(np.array(mask))
        for i, (X, y) in enumerate(shards):
            if not mask[i]:
                continue
            mod = mods[i]
            stats = state_layout(mod).stack([state_arrays(mod)])[0]
            loss = CE(mod(torch.as_tensor(X)), torch.as_tensor(y))
            grads = dict(zip([n for n, _ in mod.named_parameters()], torch.autograd.grad(loss, list(mod.parameters()))))
            with torch.no_grad():
                for n, p in mod.named_parameters():
                    p -= 0.3 * grads[n]
            after = state_layout(mod).stack([state_arrays(mod)])[0]
            for name, s in L.slices.items():
                if name in grads:
                    np.testing.assert_allclose(g[i, s].numpy(), grads[name].reshape(-1).numpy(), rtol=1e-10, atol=1e-13)
            # the buffer columns of a gradient: (b - b+) / lr, the statistics' change in SGD form
            cols = L.buffer_columns.numpy()
            np.testing.assert_allclose(before[i, cols].numpy(), stats[cols], rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(g[i, cols].numpy(), (stats[cols] - after[cols]) / 0.3, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(L.theta[i].numpy(), after, rtol=1e-10, atol=1e-13)
        assert L.int_buffers["1.num_batches_tracked"].tolist() == [int(m[1].num_batches_tracked) for m in mods]
    assert L.int_buffers["1.num_batches_tracked"].tolist() == [2, 1, 2]


def test_evaluation_uses_running_statistics():
    model = _mlp_bn()
    shards, Xt, yt = _data(5)
    L = Learners(model, shards, lr=0.2, batch_size=7, seed=2, X_test=Xt, y_test=yt)
    for _ in range(4):
        L.local_step()
    mods = _loop(model, shards, 4, lr=0.2, batch_size=7, seed=2)
    losses, accs = L.evaluate(L.theta, torch.as_tensor(Xt), torch.as_tensor(yt))
    for i, mod in enumerate(mods):
        mod.eval()
        with torch.no_grad():
            out = mod(torch.as_tensor(Xt))
        assert losses[i] == pytest.approx(float(CE(out, torch.as_tensor(yt))), rel=1e-10)
        assert accs[i] == pytest.approx(float((out.argmax(1) == torch.as_tensor(yt)).double().mean()))
        # in train mode (batch statistics) the outputs differ: eval really used the running ones
        mod.train()
        with torch.no_grad():
            assert not torch.allclose(mod(torch.as_tensor(Xt)), out)


@pytest.mark.parametrize("method,weighted", [("median", False), ("median", True), ("mean", True),
                                             ("trimmed_mean", False), ("geometric_median", False)])
def test_coordinator_aggregates_running_statistics_like_aggregate_modules(method, weighted):
    model = _mlp_bn()
    shards, Xt, yt = _data(5, m=5)
    L = Learners(model, shards, lr=0.2, batch_size=7, seed=4, X_test=Xt, y_test=yt)
    options = {"beta": 0.2} if method == "trimmed_mean" else {}
    h = simulate(PeriodicAveraging(3, method=method, weighted=weighted, **options), L, steps=3)
    mods = _loop(model, shards, 3, lr=0.2, batch_size=7, seed=4)
    w = L.n_samples.astype(float) if weighted else None
    ref = aggregate_modules(mods, method, weights=w, **options)
    ref_state = state_arrays(ref)
    got = state_arrays(h.learners.module(h.final_model))
    tol = 1e-5 if method == "geometric_median" else 1e-9
    for name in ref_state:
        np.testing.assert_allclose(got[name], ref_state[name], rtol=tol, atol=tol, err_msg=name)
    # every learner holds the aggregate, statistics included
    np.testing.assert_allclose(h.learners.theta.numpy(), np.broadcast_to(h.final_model, L.theta.shape), atol=0)
    # the recorded accuracy is the aggregate's, in eval mode with its running statistics
    ref.eval()
    with torch.no_grad():
        acc = float((ref(torch.as_tensor(Xt)).argmax(1) == torch.as_tensor(yt)).double().mean())
    assert h.final["accuracy"] == pytest.approx(acc)


def test_median_coordinator_ignores_a_corrupted_running_var():
    # case_12's kind inside the simulator: one learner reports a running_var of 1e6; a median keeps
    # the honest range, a mean does not
    model = _mlp_bn()
    shards, _, _ = _data(5, m=5)
    L = Learners(model, shards, lr=0.2, batch_size=7, seed=4)
    rv = L.slices["1.running_var"]

    def corrupt(t, protocol, learners):
        if t == 2:
            learners.theta[0, rv] = 1e6

    honest = simulate(NoSync(), L, steps=3).learners.theta[1:, rv].numpy()
    for method, bounded in (("median", True), ("mean", False)):
        h = simulate(PeriodicAveraging(3, method=method, weighted=False), L, steps=3, callback=corrupt)
        agg = h.final_model[rv]
        inside = bool(((agg >= honest.min(0) - 1e-12) & (agg <= honest.max(0) + 1e-12)).all())
        assert inside == bounded, method


def test_bytes_count_the_running_statistics():
    model = _mlp_bn(dtype=torch.float32)
    shards, _, _ = _data(5, dtype=np.float32)
    L = Learners(model, shards, lr=0.1, batch_size=7)
    n_params = sum(p.numel() for p in model.parameters())
    assert L.d == n_params + 16 and L.theta.element_size() == 4  # running_mean and running_var of 8 channels
    assert L.int_nbytes == 8  # num_batches_tracked, int64
    h = simulate(PeriodicAveraging(2), L, steps=6)
    # every message is a whole model: its floating state (4 bytes each) and its integer buffers
    assert h.final["bytes"] == 3 * 2 * 4 * (L.d * 4 + L.int_nbytes)


def test_minibatch_sgd_aggregates_the_statistics_updates():
    # distributed mini-batch SGD: one model; each learner's batch moves the running statistics;
    # the coordinator's mean of the rows (gradients and statistics' updates) gives the mean of the
    # learners' updated statistics
    model = _mlp_bn()
    shards, _, _ = _data(5)
    L = Learners(model, shards, lr=0.2, batch_size=7, seed=6)
    h = simulate(MiniBatchSGD(), L, steps=1)
    mods = _loop(model, shards, 1, lr=0.2, batch_size=7, seed=6)
    cols = L.buffer_columns.numpy()
    np.testing.assert_allclose(h.final_model[cols], _rows(mods)[:, cols].mean(0), rtol=1e-12, atol=1e-14)
    ref = aggregate_modules(mods, "mean")  # one step from one start: the mean of the local steps
    np.testing.assert_allclose(h.final_model, _rows([ref])[0], rtol=1e-10, atol=1e-13)
    # gradients() changes no state unless asked to advance the integer buffers
    before = (L.theta.clone(), L.int_buffers["1.num_batches_tracked"].clone())
    L.gradients()
    assert torch.equal(L.theta, before[0]) and torch.equal(L.int_buffers["1.num_batches_tracked"], before[1])
    L.gradients(rows=[1, 3], advance=True)
    assert L.int_buffers["1.num_batches_tracked"].tolist() == [0, 1, 0, 1] and torch.equal(L.theta, before[0])


def test_assign_takes_the_lower_median_of_integer_buffers():
    model = _mlp_bn()
    shards, _, _ = _data(5, m=5)
    L = Learners(model, shards, lr=0.2, batch_size=7, seed=4)
    for k in range(5):  # learner i takes i + 1 steps: counters 1..5
        L.local_step(np.arange(5) >= 4 - k)
    counts = L.int_buffers["1.num_batches_tracked"].tolist()
    assert counts == [1, 2, 3, 4, 5]
    sources = np.array([0, 3, 4])
    w = np.array([5.0, 1.0, 1.0])
    mods = [L.learner_module(i) for i in sources]
    ref = aggregate_modules(mods, "median", weights=w)
    vec = torch.as_tensor(_rows([ref])[0])
    L.assign(np.array([True, True, False, False, False]), vec, sources=sources, weights=w)
    assert L.int_buffers["1.num_batches_tracked"].tolist() == [1, 1, 3, 4, 5]  # weighted lower median: 1
    assert int(ref.state_dict()["1.num_batches_tracked"]) == 1
    L.assign([2], vec, sources=sources)  # unweighted: the lower median of 1, 4, 5
    assert int(lower_median(np.array([1, 4, 5]))) == 4
    assert L.int_buffers["1.num_batches_tracked"].tolist() == [1, 1, 4, 4, 5]
    np.testing.assert_array_equal(L.theta[:3].numpy(), np.broadcast_to(vec.numpy(), (3, L.d)))


def test_dynamic_averaging_distances_include_the_statistics():
    model = _mlp_bn()
    shards, _, _ = _data(5)
    L = Learners(model, shards, lr=0.2, batch_size=7, seed=5)
    local = simulate(NoSync(), L, steps=2).learners.theta
    proto = DynamicAveraging(0.0, 2, resolution="full")
    h = simulate(proto, L, steps=2)
    assert h.final["syncs"] == 1 and h.final["divergence"] == 0.0
    np.testing.assert_allclose(h.final_model, np.average(local.numpy(), axis=0, weights=L.n_samples), rtol=1e-12)


def test_tied_weights_are_held_once():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 4), nn.Linear(4, 3)).double()
    net[3].weight = net[0].weight  # tied parameters of two modules
    shards, _, _ = _data(4, m=2)
    L = Learners(net, shards, lr=0.1, batch_size=5, seed=0)
    assert "3.weight" not in L.slices and L.d == 20 + 16 + 4 + 15  # Linear(4, 4), BN (4 + 4 + 8), bias, Linear(4, 3)
    for _ in range(3):
        L.local_step()
    mods = _loop(net, shards, 3, lr=0.1, batch_size=5, seed=0)
    for i, mod in enumerate(mods):
        got = L.learner_module(i)
        assert got[0].weight is got[3].weight
        for k, v in state_arrays(got).items():
            np.testing.assert_allclose(v, state_arrays(mod)[k], rtol=1e-10, atol=1e-13)
    # one module registered twice: functional_call cannot run it per learner; a clear refusal
    lin = nn.Linear(4, 4)
    with pytest.raises(ValueError, match="registers one module under two names \\('0' and '2'\\)"):
        Learners(nn.Sequential(lin, nn.ReLU(), lin), shards)


@pytest.mark.parametrize("protocol", ["periodic", "dynamic", "oneshot"])
def test_every_protocol_sends_the_integer_buffers_with_the_model(protocol):
    # after step 1 the learners' counters are set to 0, 10, 20, 30; step 2 adds one local step
    # (+1 each) and aggregates: the model the coordinator sends down carries the (weighted, by
    # shard size, where the protocol weights the mean) lower median of the senders' counters,
    # as radonml.torch.aggregate_modules combines modules
    from radonml.federated import DynamicAveraging, RadonOneShot

    model = _mlp_bn()
    shards, _, _ = _data(5)
    L = Learners(model, shards, lr=0.1, batch_size=7, seed=2)
    proto = {"periodic": lambda: PeriodicAveraging(2),
             "dynamic": lambda: DynamicAveraging(0.0, check_every=2, resolution="full"),
             "oneshot": lambda: RadonOneShot(method="mean")}[protocol]()

    def spread_counters(t, protocol, learners):
        if t == 1:
            learners.int_buffers["1.num_batches_tracked"][:] = torch.tensor([0, 10, 20, 30])

    h = simulate(proto, L, steps=2, callback=spread_counters)
    counts = h.learners.int_buffers["1.num_batches_tracked"].tolist()
    sizes = np.array([len(y) for _, y in shards], dtype=float)  # 30, 33, 36, 39
    expected = int(lower_median(np.array([1, 11, 21, 31]), sizes if proto.weighted else None))
    assert expected == (21 if proto.weighted else 11) and counts == [expected] * 4, counts
