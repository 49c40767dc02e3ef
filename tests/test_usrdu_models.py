"""USR-DU models: golden key/shape lists, parameter counts, shapes, input errors, official-weight loading."""
from pathlib import Path

import pytest
import torch

from srlib.checkpoints import StateDictMismatch
from srlib.models import from_official
from srlib.usrdu.discriminator import UNetDConfig, UNetDiscriminatorSN
from srlib.usrdu.dsn import DSN, DSNConfig, check_hr
from srlib.usrdu.official import esrgan_keys_from_basicsr, load_dsn, load_esrgan
from srlib.usrdu.rrdbnet import RRDBNet, RRDBNetConfig
from srlib.usrdu import vgg as vgg_mod
from srlib.usrdu.vgg import VGG19Features, VGGConfig, VGGWeightsUnavailableError

FIX = Path(__file__).parent / "fixtures"


def golden(name):
    rows = [line.split() for line in (FIX / name).read_text().splitlines() if line and not line.startswith("#")]
    return {k: tuple(int(v) for v in s.split(",")) for k, s in rows}


def shapes(model):
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def paper_models():
    torch.manual_seed(0)
    return DSN(DSNConfig.for_profile("paper")), UNetDiscriminatorSN(), RRDBNet(RRDBNetConfig.for_profile("paper"))


def nparams(m):
    return sum(p.numel() for p in m.parameters())


class TestGolden:
    def test_dsn_keys_and_shapes(self, paper_models):
        assert shapes(paper_models[0]) == golden("usrdu_dsn_gen_x4.txt")

    def test_discriminator_keys_and_shapes(self, paper_models):
        assert shapes(paper_models[1]) == golden("usrdu_unet_d.txt")

    def test_rrdbnet_keys_and_shapes(self, paper_models):
        assert shapes(paper_models[2]) == golden("usrdu_esrgan_rrdbnet_x4.txt")

    def test_parameter_counts(self, paper_models):
        dsn, d, sr = paper_models
        assert nparams(sr) == 16_697_987  # ESRGAN x4, published
        assert nparams(dsn) == 9_409_361  # measured on the official module (reference doc, section 1)
        assert nparams(d) == 4_376_897  # UNetDiscriminatorSN num_feat 64 (reference doc, section 2)
        assert nparams(dsn.per_var) == 8_665_536


class TestDSN:
    def test_paper_smoke_shapes(self, paper_models):
        out = paper_models[0](torch.rand(1, 3, 64, 64))
        assert out.y_g.shape == (1, 3, 16, 16) and out.log_theta.shape == (1, 3, 16, 16)
        assert out.log_sigma.shape == (1, 512, 1, 1)

    def test_scale2_and_ablation_heads(self):
        net = DSN(DSNConfig(n_feats=8, n_res_blocks=1, scale=2, feature_uncertainty=False, sigma_widths=(4, 4, 4, 4)))
        out = net(torch.rand(1, 3, 32, 32))
        assert out.y_g.shape == (1, 3, 16, 16) and out.log_sigma is None
        assert not any(k.startswith("per_var") for k in net.state_dict())
        none = DSN(DSNConfig(n_feats=8, n_res_blocks=1, pixel_uncertainty=False, feature_uncertainty=False))
        with pytest.raises(ValueError, match="no pixel-uncertainty head"):
            none(torch.rand(1, 3, 16, 16)).theta01

    def test_theta01_units(self):
        out = DSN(DSNConfig.for_profile("tiny"))(torch.rand(1, 3, 64, 64))
        assert torch.allclose(out.theta01 * 255, out.log_theta.exp())
        assert (out.theta01 >= torch.exp(torch.tensor(-1.0)) / 255 - 1e-7).all()

    @pytest.mark.parametrize("x, msg", [
        (torch.rand(1, 1, 64, 64), "RGB"),
        (torch.rand(1, 3, 66, 64), "not divisible"),
        (torch.zeros(1, 3, 16, 16, dtype=torch.uint8), "float"),
        (torch.rand(1, 3, 32, 64), "must be >= 64"),
    ])
    def test_bad_input(self, x, msg):
        with pytest.raises(ValueError, match=msg):
            DSN(DSNConfig.for_profile("tiny"))(x)  # tiny keeps head C, so sides must be >= 64

    def test_value_check_at_the_entry_point(self):  # forward checks metadata only: no device sync per step
        x = torch.rand(1, 3, 64, 64) * 255
        DSN(DSNConfig.for_profile("tiny"))(x)
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            check_hr(x, 4, values=True)

    def test_bad_scale(self):
        with pytest.raises(ValueError, match="scale"):
            DSN(DSNConfig(scale=3))


class TestDiscriminatorAndRRDB:
    def test_d_shapes_and_errors(self):
        d = UNetDiscriminatorSN(UNetDConfig.for_profile("tiny"))
        assert d(torch.rand(2, 3, 24, 16)).shape == (2, 1, 24, 16)
        with pytest.raises(ValueError, match="divisible by 8"):
            d(torch.rand(1, 3, 20, 16))

    def test_rrdb_shapes_and_errors(self):
        net = RRDBNet(RRDBNetConfig.for_profile("tiny"))
        assert net(torch.rand(1, 3, 5, 7)).shape == (1, 3, 20, 28)
        with pytest.raises(ValueError, match="expected"):
            net(torch.rand(1, 4, 5, 7))


class TestOfficialLoading:
    def test_dsn_roundtrip_and_wrappers(self):
        torch.manual_seed(1)
        src = DSN(DSNConfig(n_feats=8, n_res_blocks=3, sigma_widths=(4, 8, 8, 16))).eval()
        x = torch.rand(1, 3, 64, 64)
        for payload in (src.state_dict(), {"gen": src.state_dict(), "dis": {}, "ep": 3}):
            net = from_official("usrdu-dsn", payload)
            assert net.cfg.n_res_blocks == 3 and net.cfg.sigma_widths == (4, 8, 8, 16)
            for a, b in zip(net(x), src(x)):
                assert torch.equal(a, b)

    def test_dsn_from_file_and_wrong_scale(self, tmp_path):
        sd = DSN(DSNConfig(n_feats=8, n_res_blocks=1, sigma_widths=(4, 4, 4, 4))).state_dict()
        torch.save(sd, tmp_path / "gen.pth")
        assert isinstance(load_dsn(tmp_path / "gen.pth"), DSN)
        with pytest.raises(StateDictMismatch, match="scale 4"):
            load_dsn(sd, scale=2)

    def test_dsn_mismatch_names_keys(self):
        sd = DSN(DSNConfig(n_feats=8, n_res_blocks=1, sigma_widths=(4, 4, 4, 4))).state_dict()
        sd.pop("var.2.bias")
        sd["extra.weight"] = torch.zeros(1)
        sd["block_output.bias"] = torch.zeros(4)
        with pytest.raises(StateDictMismatch) as e:
            load_dsn(sd)
        msg = str(e.value)
        assert "var.2.bias" in msg and "extra.weight" in msg and "block_output.bias: expected (3,), got (4,)" in msg

    def test_basicsr_names_convert_with_identical_outputs(self):
        torch.manual_seed(2)
        src = RRDBNet(RRDBNetConfig(nf=8, nb=2, gc=4)).eval()
        rev = {"RRDB_trunk": "body", "trunk_conv": "conv_body", "upconv1": "conv_up1", "upconv2": "conv_up2",
               "HRconv": "conv_hr"}
        basicsr = {}
        for k, v in src.state_dict().items():  # write the BasicSR names independently of the forward map
            head, rest = k.split(".", 1)
            k2 = rev.get(head, head) + "." + rest
            for j in (1, 2, 3):
                k2 = k2.replace(f".RDB{j}.", f".rdb{j}.")
            basicsr[k2] = v
        assert "body.1.rdb3.conv5.weight" in basicsr and "conv_hr.bias" in basicsr
        assert esrgan_keys_from_basicsr(basicsr).keys() == src.state_dict().keys()
        x = torch.rand(1, 3, 6, 6)
        for payload in (basicsr, {"params_ema": basicsr}, {f"RRDBNet_U.{k}": v for k, v in src.state_dict().items()}):
            net = from_official("esrgan", payload)
            assert (net.cfg.nf, net.cfg.nb, net.cfg.gc) == (8, 2, 4)
            assert torch.equal(net(x), src(x))

    def test_esrgan_mismatch_names_keys(self):
        sd = RRDBNet(RRDBNetConfig(nf=8, nb=1, gc=4)).state_dict()
        sd.pop("HRconv.weight")
        sd["upconv1.bias"] = torch.zeros(9)
        sd["unexpected.bias"] = torch.zeros(1)
        with pytest.raises(StateDictMismatch) as e:
            load_esrgan(sd)
        msg = str(e.value)
        assert "HRconv.weight" in msg and "unexpected.bias" in msg and "upconv1.bias: expected (8,), got (9,)" in msg

    def test_not_a_state_dict(self):
        with pytest.raises(StateDictMismatch, match="conv_first"):
            load_esrgan({"foo": torch.zeros(1)})
        with pytest.raises(StateDictMismatch, match="block_input"):
            load_dsn({"foo": torch.zeros(1)})


class TestVGG:
    def test_missing_weights_error_says_where(self, tmp_path, monkeypatch):
        monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
        monkeypatch.delenv("SRLIB_VGG19_WEIGHTS", raising=False)
        with pytest.raises(VGGWeightsUnavailableError, match="vgg19-dcbb9e9d.pth") as e:
            VGG19Features(VGGConfig())
        assert str(tmp_path / "hub") in str(e.value) and "SRLIB_VGG19_WEIGHTS" in str(e.value)

    def test_loads_torchvision_format_file(self, tmp_path, monkeypatch):
        ref = VGG19Features(VGGConfig(weights="random", seed=3))
        sd = {f"features.{k}": v for k, v in ref.features.state_dict().items()}
        sd["features.36.weight"] = torch.zeros(1)  # pretend later layers / classifier exist
        sd["classifier.0.weight"] = torch.zeros(2, 2)
        path = tmp_path / "vgg19-dcbb9e9d.pth"
        torch.save(sd, path)
        with pytest.raises(VGGWeightsUnavailableError, match="sha256"):
            VGG19Features(VGGConfig(weights_path=str(path)))
        monkeypatch.setattr(vgg_mod, "_check_hash", lambda p: None)
        monkeypatch.setenv("SRLIB_VGG19_WEIGHTS", str(path))
        net = VGG19Features(VGGConfig())
        assert net.weights_source.startswith("imagenet") and str(path) in net.weights_source
        x = torch.rand(1, 3, 32, 32)
        assert torch.equal(net(x), ref(x))

    def test_random_is_explicit_and_recorded(self):
        net = VGG19Features(VGGConfig(weights="random", width_div=8))
        assert "RANDOM" in net.weights_source and "NOT ImageNet" in net.weights_source
        assert not any(p.requires_grad for p in net.parameters())
        with pytest.raises(ValueError, match="width_div"):
            VGGConfig(weights="imagenet", width_div=8)
        with pytest.raises(ValueError, match="'imagenet' or 'random'"):
            VGGConfig(weights="none")

    def test_conv5_4_grid_matches_dsn_head_c(self):
        vgg = VGG19Features(VGGConfig(weights="random", width_div=8))
        out = DSN(DSNConfig.for_profile("tiny"))(torch.rand(1, 3, 4 * 36, 4 * 20))
        assert vgg(out.y_g).shape == out.log_sigma.shape == (1, 64, 2, 1)
