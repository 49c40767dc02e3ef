"""Architecture tests for srlib.dasr: encoder, MoCo, DA conv/block/group, SR net and BlindSR wrapper.

Golden numbers (keys, shapes, parameter counts) come from the official code as recorded in
``tests/fixtures/dasr_state_dict_x4.txt`` and ``/work/shared/reference/dasr-official.md`` Sec. 2.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from srlib.dasr.config import DASRConfig
from srlib.dasr.daconv import DAB, DAG, ConcatConv, DAConv, per_sample_depthwise
from srlib.dasr.encoder import Encoder
from srlib.dasr.moco import MoCo, contrastive_accuracy
from srlib.dasr.official import read_key_list
from srlib.dasr.network import RGB_RANGE, BlindSR, count_parameters, parameter_report
from srlib.inference import Upscaler

FIXTURE = Path(__file__).parent / "fixtures" / "dasr_state_dict_x4.txt"
TINY = DASRConfig.for_profile("tiny")


def read_fixture() -> dict:
    """{key: (shape, dtype)} in file order, from the golden state-dict listing of the official x4 model."""
    return read_key_list(FIXTURE)


# Official counts (reference table, dasr-official.md Sec. 2).
PAPER_COUNTS = {
    2: {"G": 4_542_787, "trainable": 5_821_571, "inference": 5_689_987},
    3: {"G": 4_727_427, "trainable": 6_006_211, "inference": 5_874_627},
    4: {"G": 4_690_499, "trainable": 5_969_283, "inference": 5_837_699},
}
ALL_PARAMS = {2: 7_100_379, 3: 7_285_019, 4: 7_248_091}


@pytest.fixture(scope="module")
def paper_models():
    torch.manual_seed(0)
    return {s: BlindSR(DASRConfig(scale=s)) for s in (2, 3, 4)}


class TestEncoder:
    def test_shapes(self):
        fea, out = Encoder((8, 16, 32))(torch.rand(3, 3, 20, 17) * 255)
        assert fea.shape == (3, 32) and out.shape == (3, 32)

    def test_bad_channels(self):
        with pytest.raises(ValueError, match="3, h, w"):
            Encoder((8, 16, 32))(torch.rand(2, 1, 16, 16))

    def test_official_indices_and_counts(self):
        enc = Encoder()
        convs = [i for i, m in enumerate(enc.E) if isinstance(m, torch.nn.Conv2d)]
        assert convs == [0, 3, 6, 9, 12, 15]
        assert [enc.E[i].stride for i in convs] == [(1, 1), (1, 1), (2, 2), (1, 1), (2, 2), (1, 1)]
        assert enc.trunk_parameters() == 1_147_200
        assert count_parameters(enc) == 1_278_784

    def test_downsampling_of_a_48_patch(self):
        assert Encoder().E[:-1](torch.rand(1, 3, 48, 48)).shape[-2:] == (12, 12)


class TestMoCo:
    def make(self, K=8, m=0.999):
        torch.manual_seed(0)
        return MoCo(Encoder((4, 4, 8)), queue_size=K, momentum=m, generator=torch.Generator().manual_seed(1))

    def test_queue_init(self):
        moco = self.make()
        assert moco.queue.shape == (8, 8) and moco.queue_ptr.dtype == torch.long and int(moco.queue_ptr) == 0
        torch.testing.assert_close(moco.queue.norm(dim=0), torch.ones(8))
        assert all(not p.requires_grad for p in moco.encoder_k.parameters())
        for p_q, p_k in zip(moco.encoder_q.parameters(), moco.encoder_k.parameters()):
            assert torch.equal(p_q, p_k)

    def test_enqueue_pointer_and_wrap(self):
        moco = self.make(K=8)
        keys = [torch.full((4, 8), float(i)) for i in range(3)]
        moco.enqueue(keys[0])
        assert int(moco.queue_ptr) == 4 and torch.all(moco.queue[:, :4] == 0)
        old_right = moco.queue[:, 4:].clone()
        moco.enqueue(keys[1])
        assert int(moco.queue_ptr) == 0 and torch.all(moco.queue[:, 4:] == 1) and not torch.equal(old_right, moco.queue[:, 4:])
        moco.enqueue(keys[2])  # wraps around: overwrites the oldest columns
        assert int(moco.queue_ptr) == 4 and torch.all(moco.queue[:, :4] == 2) and torch.all(moco.queue[:, 4:] == 1)

    def test_enqueue_requires_divisible_K(self):
        with pytest.raises(ValueError, match="multiple"):
            self.make(K=8).enqueue(torch.zeros(3, 8))

    def test_momentum_update_formula(self):
        moco = self.make(m=0.9)
        with torch.no_grad():
            for p in moco.encoder_q.parameters():
                p.add_(1.0)
        before_k = [p.clone() for p in moco.encoder_k.parameters()]
        moco.momentum_update()
        for p_q, p_k, k0 in zip(moco.encoder_q.parameters(), moco.encoder_k.parameters(), before_k):
            torch.testing.assert_close(p_k, 0.9 * k0 + 0.1 * p_q)

    def test_forward_logits_and_order(self):
        moco = self.make(K=8, m=0.0)  # m=0: after the (first) momentum update the key encoder equals the query one
        queue0 = moco.queue.clone()
        with torch.no_grad():
            for p in moco.encoder_q.parameters():
                p.mul_(1.5)
        x_q, x_k = torch.rand(4, 3, 12, 12) * 255, torch.rand(4, 3, 12, 12) * 255
        fea, logits, labels = moco(x_q, x_k)
        q = F.normalize(moco.encoder_q(x_q)[1], dim=1)
        k = F.normalize(moco.encoder_q(x_k)[1], dim=1)  # keys come from the *updated* key encoder
        expected = torch.cat([(q * k).sum(1, keepdim=True), q @ queue0], 1) / 0.07
        torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)
        assert logits.shape == (4, 9) and labels.tolist() == [0] * 4 and fea.shape == (4, 8)
        torch.testing.assert_close(moco.queue[:, :4], k.T, atol=1e-5, rtol=1e-5)
        assert int(moco.queue_ptr) == 4

    def test_eval_returns_fea_only_without_side_effects(self):
        moco = self.make().eval()
        queue0, k0 = moco.queue.clone(), [p.clone() for p in moco.encoder_k.parameters()]
        fea = moco(torch.rand(2, 3, 12, 12) * 255, torch.rand(2, 3, 12, 12) * 255)
        assert fea.shape == (2, 8) and torch.equal(moco.queue, queue0) and int(moco.queue_ptr) == 0
        assert all(torch.equal(a, b) for a, b in zip(k0, moco.encoder_k.parameters()))

    def test_bad_pair(self):
        with pytest.raises(ValueError, match="same shape"):
            self.make()(torch.rand(2, 3, 12, 12), torch.rand(2, 3, 10, 12))

    def test_accuracy(self):
        assert float(contrastive_accuracy(torch.tensor([[3.0, 1.0, 0.0], [0.0, 1.0, 0.0]]))) == 0.5


class TestDAConv:
    def test_grouped_trick_equals_loop(self):
        torch.manual_seed(0)
        m = DAConv(16, reduction=4)
        x, d = torch.randn(3, 16, 7, 6), torch.randn(3, 16)
        out = m(x, d)
        loop = []
        for i in range(3):  # the DA conv written sample by sample, straight from the paper's description
            w = m.kernel(d[i : i + 1]).view(16, 1, 3, 3)
            f1 = m.conv(F.leaky_relu(F.conv2d(x[i : i + 1], w, padding=1, groups=16), 0.1))
            v = torch.sigmoid(m.ca.conv_du[2](F.leaky_relu(m.ca.conv_du[0](d[i].view(1, 16, 1, 1)), 0.1)))
            loop.append(f1 + x[i : i + 1] * v)
        torch.testing.assert_close(out, torch.cat(loop), atol=1e-5, rtol=1e-5)

    def test_depthwise_bad_kernels(self):
        with pytest.raises(ValueError, match="kernels"):
            per_sample_depthwise(torch.randn(2, 3, 5, 5), torch.randn(2, 3, 2, 2))

    def test_bad_representation(self):
        with pytest.raises(ValueError, match="representation"):
            DAConv(16, reduction=4)(torch.randn(2, 16, 5, 5), torch.randn(2, 8))

    def test_counts(self):
        assert count_parameters(DAConv()) == 46_144
        assert count_parameters(DAConv(modulation=False)) == 46_144 - 1024
        assert count_parameters(DAB()) == 166_144
        assert count_parameters(DAG()) == 867_648

    def test_concat_conv_stretches(self):
        torch.manual_seed(0)
        m = ConcatConv(4, 2, kernel_size=1)
        x, d = torch.randn(1, 4, 3, 3), torch.randn(1, 2)
        ref = m.conv(torch.cat([x, d.view(1, 2, 1, 1).repeat(1, 1, 3, 3)], 1))
        torch.testing.assert_close(m(x, d), ref)


class TestBlindSR:
    def test_golden_keys_x4(self, paper_models):
        ref = read_fixture()
        sd = paper_models[4].state_dict()
        assert len(ref) == 519
        assert list(sd) == list(ref)  # same names, same order
        for k, (shape, dtype) in ref.items():
            assert tuple(sd[k].shape) == shape, k
            assert str(sd[k].dtype) == f"torch.{dtype}", k

    @pytest.mark.parametrize("scale", [2, 3])
    def test_keys_other_scales(self, paper_models, scale):
        ref = read_fixture()
        sd = paper_models[scale].state_dict()
        assert len(sd) == 517 and "G.tail.0.2.weight" not in sd
        assert tuple(sd["G.tail.0.0.weight"].shape) == ({2: 256, 3: 576}[scale], 64, 3, 3)
        assert {k for k in sd if not k.startswith("G.tail")} == {k for k in ref if not k.startswith("G.tail")}

    @pytest.mark.parametrize("scale", [2, 3, 4])
    def test_parameter_counts(self, paper_models, scale):
        rep = parameter_report(paper_models[scale])
        assert {k: rep[k] for k in PAPER_COUNTS[scale]} == PAPER_COUNTS[scale]
        assert rep["G_frozen"] == 24 and rep["encoder"] == 1_278_784 and rep["trunk"] == 1_147_200
        assert count_parameters(paper_models[scale], None) == ALL_PARAMS[scale]
        assert paper_models[scale].E.queue.shape == (256, 8192)

    def test_paper_size_smoke(self, paper_models):
        with torch.no_grad():
            sr = paper_models[4].eval()(torch.rand(1, 3, 8, 6))
        assert sr.shape == (1, 3, 32, 24) and torch.isfinite(sr).all()

    def test_pixel_scale_convention(self):
        torch.manual_seed(0)
        m = BlindSR(TINY).eval()
        lr = torch.rand(2, 3, 10, 10)
        with torch.no_grad():
            fea = m.E(lr * 255, lr * 255)  # official eval path, [0, 255]
            torch.testing.assert_close(m(lr), m.G(lr * 255, fea) / RGB_RANGE)
            torch.testing.assert_close(m.represent(lr), fea)

    def test_meanshift_frozen(self):
        m = BlindSR(TINY)
        assert not m.G.sub_mean.weight.requires_grad and not m.G.add_mean.bias.requires_grad
        torch.testing.assert_close(m.G.add_mean.bias, 255 * torch.tensor([0.4488, 0.4371, 0.4040]))

    @pytest.mark.parametrize("scale", [2, 3, 4])
    def test_train_forward_shapes(self, scale):
        torch.manual_seed(0)
        m = BlindSR(DASRConfig.for_profile("tiny", scale=scale)).train()
        sr, logits, labels = m.forward_train(torch.rand(4, 2, 3, 12, 12))
        assert sr.shape == (4, 3, 12 * scale, 12 * scale)
        assert logits.shape == (4, 1 + TINY.queue_size) and labels.shape == (4,)
        sr, logits, labels = m.forward_train(torch.rand(4, 2, 3, 12, 12), contrastive=False)
        assert logits is None and labels is None

    def test_bad_inputs(self):
        m = BlindSR(TINY).eval()
        with pytest.raises(ValueError, match="RGB"):
            m(torch.rand(1, 1, 8, 8))
        with pytest.raises(ValueError, match=r"\[0, 1\]"):  # values are checked once at the entry point,
            Upscaler(m, TINY.scale)(torch.rand(1, 3, 8, 8) * 255)  # not in forward (no sync per step or tile)
        with pytest.raises(TypeError, match="float"):
            m(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
        with pytest.raises(ValueError, match="representation"):
            m.sr_from_representation(torch.rand(1, 3, 8, 8), torch.rand(1, 5))
        with pytest.raises(ValueError, match="lr_pair"):
            m.train().forward_train(torch.rand(2, 3, 8, 8))
        with pytest.raises(RuntimeError, match="train mode"):
            m.eval().contrast(torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8))

    def test_config_validation(self):
        with pytest.raises(ValueError, match="scale"):
            DASRConfig(scale=5)
        with pytest.raises(ValueError, match="block"):
            DASRConfig(block="dense")
        with pytest.raises(ValueError, match="reduction"):
            DASRConfig(n_feats=12, reduction=8)
