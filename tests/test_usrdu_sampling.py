"""USR-DU sampling: Laplace noise statistics, determinism, cached vs online agreement."""
import io
import math

import pytest
import torch

from srlib.data import samplers
from srlib.usrdu.dsn import DSN, DSNConfig
from srlib.usrdu.sampling import (CachedDegradations, SRNPairSampler, laplace_icdf, sample_lr,
                                  standard_laplace)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def dsn():
    torch.manual_seed(0)
    return DSN(DSNConfig(n_feats=8, n_res_blocks=2, feature_uncertainty=False)).eval()


@pytest.fixture(scope="module")
def images():
    g = gen(1)
    return [("a", torch.rand(3, 128, 112, generator=g)), ("b", torch.rand(3, 100, 130, generator=g))]


class TestLaplace:
    def test_moments(self):
        eps = standard_laplace((1_000_000,), gen(0), torch.float64)
        # sd of the sample mean = sqrt(2/n) = 0.0014; of the variance ~ sqrt(20/n) = 0.0045 (4th moment 24)
        assert abs(float(eps.mean())) < 0.007
        assert abs(float(eps.var()) - 2.0) < 0.025
        assert abs(float(eps.abs().mean()) - 1.0) < 0.005  # E|eps| = scale
        assert abs(float((eps > math.log(2)).double().mean()) - 0.25) < 0.002  # P(eps > ln 2) = exp(-ln 2) / 2

    def test_icdf_edges_finite(self):
        u = torch.tensor([0.0, 1e-300, 0.5, 1 - 2.0 ** -53], dtype=torch.float64)
        e = laplace_icdf(u)
        assert torch.isfinite(e).all() and e[0] < -30 and float(e[2]) == 0.0 and e[3] > 30

    def test_determinism_and_freshness(self):
        y = torch.zeros(2, 3, 4, 4)
        a = sample_lr(y, 0.1, gen(5))
        assert torch.equal(a, sample_lr(y, 0.1, gen(5)))
        g = gen(5)
        first, second = sample_lr(y, 0.1, g), sample_lr(y, 0.1, g)
        assert torch.equal(first, a) and not torch.equal(first, second)

    def test_scale_tensor_and_unclamped(self):
        y = torch.full((1, 3, 64, 64), 0.5)
        theta = torch.zeros_like(y)
        theta[..., :32] = 0.2
        out = sample_lr(y, theta, gen(0))
        assert torch.equal(out[..., 32:], y[..., 32:])
        assert float(out.max()) > 1.0 and float(out.min()) < 0.0  # official: no clamping


class TestSchemes:
    def test_cached_matches_full_image_dsn(self, dsn, images):
        cache = CachedDegradations(dsn, images, quantize_mean=False)
        with torch.no_grad():
            out = dsn(images[1][1][None, :, :100, :128])
        assert cache.hr[1].shape == (3, 100, 128)
        assert torch.equal(cache.y_g[1], out.y_g[0]) and torch.equal(cache.log_theta[1], out.log_theta[0])
        q = CachedDegradations(dsn, images)
        assert torch.equal(q.y_g[0] * 255, (q.y_g[0] * 255).round())

    def test_crop_consistency_cached_vs_online(self, dsn, images):
        cache = CachedDegradations(dsn, images, quantize_mean=False)
        hr, y_g, lt = cache.crop(0, 2, 3, 24)
        assert hr.shape == (3, 96, 96) and y_g.shape == lt.shape == (3, 24, 24)
        assert torch.equal(hr, images[0][1][:, 8:104, 12:108])
        with torch.no_grad():
            online = dsn(hr[None]).log_theta[0]  # official scheme: DSN on the HR patch
        # receptive field of log theta: 1 + 2*2 + 2 HR convs and 2 + 3 LR convs -> < 6 LR pixels of border effect
        m = 6
        assert torch.allclose(online[:, m:-m, m:-m], lt[:, m:-m, m:-m], atol=1e-5)
        assert not torch.allclose(online[:, :1], lt[:, :1], atol=1e-5)  # zero padding at the patch border
        with pytest.raises(ValueError, match="does not fit"):
            cache.crop(0, 10, 0, 24)

    @pytest.mark.parametrize("scheme", ["online", "cached"])
    def test_pair_sampler_determinism(self, dsn, images, scheme):
        cache = CachedDegradations(dsn, images)
        a = SRNPairSampler(cache, 16, 3, gen(7), scheme=scheme)
        b = SRNPairSampler(cache, 16, 3, gen(7), scheme=scheme)
        (la, ha), (lb, hb) = next(a), next(b)
        assert la.shape == (3, 3, 16, 16) and ha.shape == (3, 3, 64, 64)
        assert torch.equal(la, lb) and torch.equal(ha, hb)
        state = a.state_dict()
        n1 = next(a)
        buf = io.BytesIO()
        torch.save(state, buf)  # a checkpoint part: must load without unpickling code
        a.load_state_dict(torch.load(io.BytesIO(buf.getvalue()), weights_only=True))
        assert torch.equal(next(a)[0], n1[0])

    def test_pair_sampler_shares_the_sampler_state_code(self):
        assert issubclass(SRNPairSampler, samplers._Sampler)
        assert SRNPairSampler.state_dict is samplers._Sampler.state_dict
        assert SRNPairSampler.load_state_dict is samplers._Sampler.load_state_dict

    def test_modes(self, dsn, images):
        cache = CachedDegradations(dsn, images)
        lr0, hr0 = next(SRNPairSampler(cache, 16, 2, gen(3), mode="none"))
        assert torch.equal(lr0 * 255, (lr0 * 255).round())  # y_hat = y_g, still on the 8-bit grid
        lr1, hr1 = next(SRNPairSampler(cache, 16, 2, gen(3), mode="constant", constant_scale=0.5))
        assert torch.equal(hr0, hr1)
        assert 0.3 < float((lr1 - lr0).abs().mean()) < 0.7  # E|eps * 0.5| = 0.5
        no_theta = DSN(DSNConfig(n_feats=8, n_res_blocks=1, pixel_uncertainty=False, feature_uncertainty=False))
        with pytest.raises(ValueError, match="pixel-uncertainty"):
            SRNPairSampler(CachedDegradations(no_theta, images), 16, 2, gen(0), mode="theta")
        with pytest.raises(ValueError, match="mode"):
            SRNPairSampler(cache, 16, 2, gen(0), mode="gauss")
        with pytest.raises(ValueError, match="smaller"):
            SRNPairSampler(cache, 40, 2, gen(0))

    def test_online_noise_follows_theta(self, dsn, images):
        cache = CachedDegradations(dsn, images, quantize_mean=False)
        s = SRNPairSampler(cache, 16, 64, gen(2), scheme="cached", augment_patches=False)
        lr, hr = next(s)
        # recompute the means of the drawn crops by replaying the generator
        g = gen(2)
        means, thetas = [], []
        for _ in range(64):
            i = int(torch.randint(len(cache), (1,), generator=g))
            h, w = cache.y_g[i].shape[-2:]
            t, l_ = int(torch.randint(h - 15, (1,), generator=g)), int(torch.randint(w - 15, (1,), generator=g))
            _, y, lt = cache.crop(i, t, l_, 16)
            means.append(y)
            thetas.append(lt.exp() / 255)
        z = (lr - torch.stack(means)) / torch.stack(thetas)  # should be standard Laplace
        assert abs(float(z.abs().mean()) - 1.0) < 0.03 and abs(float(z.mean())) < 0.03
