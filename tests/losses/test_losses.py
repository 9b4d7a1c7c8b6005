"""Every loss term against an independent hand computation (plain Python loops over small tensors)."""

from __future__ import annotations

import math

import pytest
import torch

from ssft.heads.discriminator import AdversarialPrior
from ssft.losses import (
    alignment_infonce_loss,
    binary_loss,
    categorical_loss,
    categorical_twin_loss,
    discriminator_loss,
    generator_loss,
    label_infonce_loss,
    marginal_entropy_loss,
    reconstruction_loss,
    sample_categorical_prior,
    sample_gaussian_prior,
    supcon_loss,
)


@pytest.fixture(autouse=True)
def _f64():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def lse(xs):
    m = max(xs)
    return m + math.log(sum(math.exp(x - m) for x in xs))


def cos(a, b):
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


S = [[2.0, -1.0, 0.5], [0.1, 0.3, -0.7], [-1.2, 0.4, 1.5], [0.9, 0.8, -0.3]]
Y = [0, 2, 2, 1]


def test_categorical_matches_hand():
    want = sum(-(S[i][Y[i]] - lse(S[i])) for i in range(4)) / 4
    got = categorical_loss(scores=torch.tensor(S), targets=torch.tensor(Y))
    assert got.item() == pytest.approx(want, rel=1e-6)


def test_categorical_twin_matches_hand():
    s2c = sum(-(S[i][Y[i]] - lse(S[i])) for i in range(4)) / 4
    terms = []
    for k in range(3):
        col = [S[i][k] for i in range(4)]
        pos = [S[i][k] for i in range(4) if Y[i] == k]
        if pos:
            terms.append(-(lse(pos) - lse(col)))
    c2s = sum(terms) / len(terms)
    got = categorical_twin_loss(scores=torch.tensor(S), targets=torch.tensor(Y))
    assert got["samples_to_classes"].item() == pytest.approx(s2c, rel=1e-6)
    assert got["classes_to_samples"].item() == pytest.approx(c2s, rel=1e-6)
    assert got["loss"].item() == pytest.approx(0.5 * (s2c + c2s), rel=1e-6)


def test_binary_matches_hand():
    def logsig(x):
        return -math.log1p(math.exp(-x))

    total = 0.0
    for i in range(4):
        for k in range(3):
            total += -(logsig(S[i][k]) if Y[i] == k else logsig(-S[i][k]))
    got = binary_loss(scores=torch.tensor(S), targets=torch.tensor(Y))
    assert got.item() == pytest.approx(total / 4, rel=1e-6)


def test_label_infonce_matches_hand_with_duplicates_masked():
    z = [[1.0, 0.2], [0.3, -1.0], [-0.5, 0.5], [0.7, 0.7]]
    w = [[1.0, 0.0], [0.0, 1.0], [-1.0, -0.2]]
    tau = 0.5
    total = 0.0
    for i in range(4):
        negs = [cos(z[i], w[Y[j]]) / tau for j in range(4) if j == i or Y[j] != Y[i]]
        total += -(cos(z[i], w[Y[i]]) / tau - lse(negs))
    got = label_infonce_loss(
        embeddings=torch.tensor(z), class_embeddings=torch.tensor(w), targets=torch.tensor(Y), temperature=tau
    )
    assert got.item() == pytest.approx(total / 4, rel=1e-6)


def test_marginal_matches_hand_and_is_minimal_at_prior():
    p = [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]
    prior = [0.5, 0.25, 0.25]
    qbar = [(p[0][k] + p[1][k]) / 2 for k in range(3)]
    want = -sum(prior[k] * math.log(qbar[k] + 1e-8) for k in range(3))
    got = marginal_entropy_loss(probs=torch.tensor(p), prior=torch.tensor(prior))
    assert got.item() == pytest.approx(want, rel=1e-6)
    at_prior = marginal_entropy_loss(probs=torch.tensor([prior, prior]), prior=torch.tensor(prior))
    entropy = -sum(q * math.log(q) for q in prior)
    assert at_prior.item() == pytest.approx(entropy, rel=1e-6)
    assert got.item() > at_prior.item()


def test_alignment_matches_hand_and_detaches_target():
    a = [[1.0, 0.0, 0.5], [0.2, 1.0, -0.3], [-0.4, 0.1, 1.0]]
    b = [[0.9, 0.1, 0.4], [0.0, 1.0, 0.0], [0.3, -0.2, 0.8]]
    tau = 0.2
    rows = (
        sum(-(cos(a[i], b[i]) / tau - lse([cos(a[i], b[j]) / tau for j in range(3)])) for i in range(3)) / 3
    )
    cols = (
        sum(-(cos(a[j], b[j]) / tau - lse([cos(a[i], b[j]) / tau for i in range(3)])) for j in range(3)) / 3
    )
    za = torch.tensor(a, requires_grad=True)
    zb = torch.tensor(b, requires_grad=True)
    got = alignment_infonce_loss(z=za, target=zb, temperature=tau)
    assert got.item() == pytest.approx(0.5 * (rows + cols), rel=1e-6)
    got.backward()
    assert za.grad is not None and za.grad.abs().sum() > 0
    assert zb.grad is None  # the backbone latent is a stop-gradient target


def test_supcon_matches_hand():
    z = [[1.0, 0.0], [0.8, 0.3], [0.0, 1.0], [-0.2, 0.9], [0.5, -0.5]]
    y = [0, 0, 1, 1, 2]  # the last anchor has no positive and is skipped
    tau = 0.3
    per = []
    for i in range(5):
        pos = [p for p in range(5) if p != i and y[p] == y[i]]
        if not pos:
            continue
        denom = lse([cos(z[i], z[a]) / tau for a in range(5) if a != i])
        per.append(sum(-(cos(z[i], z[p]) / tau - denom) for p in pos) / len(pos))
    got = supcon_loss(embeddings=torch.tensor(z), targets=torch.tensor(y), temperature=tau)
    assert got.item() == pytest.approx(sum(per) / len(per), rel=1e-6)


def test_supcon_with_invalid_samples_equals_supcon_without_them():
    g = torch.Generator().manual_seed(3)
    z = torch.randn(7, 4, generator=g)
    y = torch.tensor([0, 0, 1, 1, 2, 0, 1])
    valid = torch.tensor([True, True, True, False, True, True, False])
    got = supcon_loss(embeddings=z, targets=y, temperature=0.3, valid=valid)
    want = supcon_loss(embeddings=z[valid], targets=y[valid], temperature=0.3)
    assert got.item() == pytest.approx(want.item(), rel=1e-6)
    everyone = supcon_loss(embeddings=z, targets=y, temperature=0.3)
    assert everyone.item() != pytest.approx(want.item(), rel=1e-3)  # the invalid rows do matter


def test_supcon_without_positives_is_zero_with_graph():
    z = torch.randn(3, 4, requires_grad=True)
    loss = supcon_loss(embeddings=z, targets=torch.tensor([0, 1, 2]), temperature=0.1)
    loss.backward()
    assert loss.item() == 0.0


def test_reconstruction_cosine_and_mse():
    r = [[1.0, 2.0], [0.0, -1.0]]
    t = [[2.0, 1.0], [1.0, 1.0]]
    want_cos = sum(1 - cos(r[i], t[i]) for i in range(2)) / 2
    want_mse = sum((r[i][j] - t[i][j]) ** 2 for i in range(2) for j in range(2)) / 4
    tt = torch.tensor(t, requires_grad=True)
    got = reconstruction_loss(recon=torch.tensor(r), target=tt, kind="cosine")
    assert got.item() == pytest.approx(want_cos, rel=1e-6)
    assert reconstruction_loss(recon=torch.tensor(r), target=tt, kind="mse").item() == pytest.approx(want_mse)
    assert not got.requires_grad  # no gradient path to the target
    with pytest.raises(ValueError, match="cosine, mse"):
        reconstruction_loss(recon=torch.tensor(r), target=tt, kind="l1")


def test_discriminator_and_generator_losses_match_hand():
    real, fake = [2.0, -0.5], [0.3, -1.5, 0.1]

    def bce(x, label):
        p = 1 / (1 + math.exp(-x))
        return -math.log(p) if label else -math.log(1 - p)

    want = 0.5 * (sum(bce(x, 1) for x in real) / 2 + sum(bce(x, 0) for x in fake) / 3)
    got = discriminator_loss(real_logits=torch.tensor(real), fake_logits=torch.tensor(fake))
    assert got["loss"].item() == pytest.approx(want, rel=1e-6)
    assert got["accuracy"].item() == pytest.approx(0.5 * (1 / 2 + 1 / 3))
    dr = generator_loss(fake_logits=torch.tensor(fake), kind="density_ratio")
    assert dr.item() == pytest.approx(-sum(fake) / 3)
    ns = generator_loss(fake_logits=torch.tensor(fake), kind="non_saturating")
    assert ns.item() == pytest.approx(sum(math.log1p(math.exp(-x)) for x in fake) / 3)


def test_prior_samplers():
    g = torch.Generator().manual_seed(0)
    prior = torch.tensor([0.7, 0.2, 0.1])
    y = sample_categorical_prior(20000, prior, generator=g)
    assert torch.allclose(y.sum(1), torch.ones(20000, dtype=y.dtype))
    assert torch.allclose(y.mean(0), prior.to(y.dtype), atol=0.02)
    ys = sample_categorical_prior(10, prior, smoothing=0.3, generator=g)
    assert ys.max().item() == pytest.approx(0.7 + 0.1) and ys.min().item() == pytest.approx(0.1)
    n = sample_gaussian_prior(20000, 3, generator=g)
    assert n.mean().abs() < 0.03 and (n.std() - 1).abs() < 0.03


def test_dirichlet_prior_samples_overlap_the_interior_of_the_simplex():
    prior = torch.tensor([0.7, 0.2, 0.1])
    g = torch.Generator().manual_seed(0)
    v = sample_categorical_prior(
        20000, prior, kind="dirichlet", smoothing=0.1, concentration=10.0, generator=g
    )
    assert torch.allclose(v.sum(1), torch.ones(20000, dtype=v.dtype), atol=1e-5)
    # a density on the simplex, not its vertices (float32 may round a rare sample's top to 1)
    assert (v > 0).all() and (v < 1).float().mean() > 0.999
    # mean of Dir(A·m_y) is m_y = 0.9·onehot(y) + 0.1/3; averaged over y ~ π: 0.9·π + 0.1/3
    assert torch.allclose(v.mean(0), (0.9 * prior + 0.1 / 3).to(v.dtype), atol=0.01)
    # the winning coordinate of each sample follows π, and samples are near-one-hot on average
    assert torch.allclose(
        (torch.bincount(v.argmax(1), minlength=3) / 20000.0).to(v.dtype), prior.to(v.dtype), atol=0.02
    )
    assert v.max(1).values.mean() > 0.8
    # variance of a Dirichlet coordinate: m(1-m)/(A+1); for the winning class m = 0.9 + 0.1/3
    m = 0.9 + 0.1 / 3
    top = v[v.argmax(1) == 0, 0]
    assert top.var().item() == pytest.approx(m * (1 - m) / 11, rel=0.15)
    # larger concentration -> closer to the smoothed one-hot atoms
    tight = sample_categorical_prior(
        2000, prior, kind="dirichlet", smoothing=0.1, concentration=1e4, generator=g
    )
    assert (tight.max(1).values - m).abs().max() < 0.02
    # deterministic given the generator state
    a = sample_categorical_prior(
        5, prior, kind="dirichlet", smoothing=0.1, generator=torch.Generator().manual_seed(3)
    )
    b = sample_categorical_prior(
        5, prior, kind="dirichlet", smoothing=0.1, generator=torch.Generator().manual_seed(3)
    )
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="0 < smoothing < 1"):
        sample_categorical_prior(5, prior, kind="dirichlet", smoothing=0.0)
    with pytest.raises(ValueError, match="known: onehot, dirichlet"):
        sample_categorical_prior(5, prior, kind="beta")


def test_adversarial_prior_sample_kinds():
    onehot = AdversarialPrior(4, samples="onehot", smoothing=0.0, seed=0).sample(50, torch.device("cpu"))
    assert set(onehot.unique().tolist()) == {0.0, 1.0}
    smoothed = AdversarialPrior(4, samples="onehot", smoothing=0.2, seed=0).sample(50, torch.device("cpu"))
    assert smoothed.unique().tolist() == pytest.approx([0.05, 0.85])
    dirichlet = AdversarialPrior(4, seed=0).sample(50, torch.device("cpu"))  # the default
    assert (dirichlet > 0).all() and dirichlet.unique().numel() == 200


def test_adversarial_prior_learns_and_resumes_exactly():
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(0)
    adv = AdversarialPrior(3, prior="categorical", hidden=16, depth=1, lr=1e-2, seed=1)
    fake = torch.full((64, 3), 1 / 3)  # a collapsed uniform posterior: easy to tell from one-hots
    for _ in range(60):
        out = adv.discriminator_step(fake)
    assert out["d_acc"] > 0.9
    # the generator loss reaches the model's output, not the discriminator's optimiser
    f = fake.clone().requires_grad_(True)
    adv.generator_loss(f).backward()
    assert f.grad is not None and f.grad.abs().sum() > 0
    # exact resume: same state -> same next step
    clone = AdversarialPrior(3, prior="categorical", hidden=16, depth=1, lr=1e-2, seed=99)
    clone.load_state_dict(adv.state_dict())
    a, b = adv.discriminator_step(fake), clone.discriminator_step(fake)
    assert a == b
    g = AdversarialPrior(4, prior="gaussian", hidden=8, depth=1)
    assert g.sample(5, torch.device("cpu")).shape == (5, 4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_losses_are_invariant_to_permuting_the_batch(seed):
    g = torch.Generator().manual_seed(seed)
    b, k, d = 8, 3, 5
    s, y = torch.randn(b, k, generator=g), torch.randint(0, k, (b,), generator=g)
    z, t, w = torch.randn(b, d, generator=g), torch.randn(b, d, generator=g), torch.randn(k, d, generator=g)
    p = torch.randperm(b, generator=g)
    pairs = [
        (lambda s, y, z, t: categorical_loss(scores=s, targets=y)),
        (lambda s, y, z, t: categorical_twin_loss(scores=s, targets=y)["loss"]),
        (lambda s, y, z, t: binary_loss(scores=s, targets=y)),
        (lambda s, y, z, t: marginal_entropy_loss(probs=s.softmax(-1), prior=torch.full((k,), 1 / k))),
        (lambda s, y, z, t: supcon_loss(embeddings=z, targets=y, temperature=0.2)),
        (lambda s, y, z, t: alignment_infonce_loss(z=z, target=t, temperature=0.2)),
        (lambda s, y, z, t: label_infonce_loss(embeddings=z, class_embeddings=w, targets=y, temperature=0.2)),
        (lambda s, y, z, t: reconstruction_loss(recon=z, target=t)),
    ]
    for fn in pairs:
        a, c = fn(s, y, z, t), fn(s[p], y[p], z[p], t[p])
        assert a.item() == pytest.approx(c.item(), rel=1e-6, abs=1e-9)


def test_infonce_mutual_information_estimate_is_at_most_log_batch():
    g = torch.Generator().manual_seed(0)
    for b in (2, 8, 32):
        z, t = torch.randn(b, 6, generator=g), torch.randn(b, 6, generator=g)
        loss = alignment_infonce_loss(z=z, target=t, temperature=0.5)
        assert math.log(b) - loss.item() <= math.log(b)  # I_NCE = log B - L <= log B, i.e. L >= 0
        # perfectly aligned, orthogonal pairs at a low temperature reach the bound
        e = torch.eye(b)
        tight = alignment_infonce_loss(z=e, target=e, temperature=0.01)
        assert math.log(b) - tight.item() == pytest.approx(math.log(b), abs=1e-3)


def test_discriminator_and_model_optimise_opposite_objectives():
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(0)
    adv = AdversarialPrior(3, prior="categorical", hidden=16, depth=1, lr=1e-2, seed=0)
    fake = torch.softmax(torch.randn(64, 3), -1)
    d0 = adv.discriminator_step(fake)["d_loss"]
    for _ in range(30):  # D learns: its loss goes down
        adv.discriminator_step(fake)
    assert adv.discriminator_step(fake)["d_loss"] < d0
    real = adv.sample(64, torch.device("cpu"))

    def d_loss_on(f):
        return discriminator_loss(real_logits=adv.disc(real), fake_logits=adv.disc(f))["loss"].item()

    # the model's step on its KL term makes D's job harder: D's loss on the moved outputs goes up
    logits = torch.randn(64, 3, requires_grad=True)
    before = d_loss_on(logits.softmax(-1))
    opt = torch.optim.SGD([logits], lr=1.0)
    for _ in range(5):
        opt.zero_grad()
        adv.generator_loss(logits.softmax(-1)).backward()
        opt.step()
    assert d_loss_on(logits.softmax(-1)) > before
