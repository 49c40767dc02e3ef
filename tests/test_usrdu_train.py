"""USR-DU training: configs and profiles, Table 1 situations, bit-identical resume, interrupts, CLI, upscaler."""
import dataclasses
import os
import signal

import pytest
import torch

from srlib.runs import RunDir, load_checkpoint
from srlib.usrdu import evaluate as ev
from srlib.usrdu import dsn_training
from srlib.usrdu import train as T
from srlib.usrdu.configs import PAPER_TABLE1, SITUATIONS, DSNTrainConfig, SRNTrainConfig
from srlib.usrdu.dsn import DSNConfig
from srlib.usrdu.rrdbnet import RRDBNet, RRDBNetConfig
from srlib.usrdu.discriminator import UNetDConfig
from srlib.usrdu.vgg import VGGConfig, VGGWeightsUnavailableError


# Narrower than the tiny profile so that the whole file runs in seconds.
SMALL_VGG = VGGConfig(weights="random", width_div=32)
SMALL_D = UNetDConfig(num_feat=4)


def tiny_dsn(situation=5, **kw):
    s = SITUATIONS[situation]
    dsn = DSNConfig(n_feats=8, n_res_blocks=1, pixel_uncertainty=s.pixel_uncertainty,
                    feature_uncertainty=s.feature_uncertainty, sigma_widths=(4, 8, 8, 16))
    kw = {"batch_size": 2, "lr_patch": 16, "iters": 4, "log_every": 1, "val_every": 100, "save_every": 100,
          "dsn": dsn, "vgg": SMALL_VGG, "disc": SMALL_D, **kw}
    return DSNTrainConfig.for_profile("tiny", situation, **kw)


def tiny_srn(dsn_ckpt, situation=5, **kw):
    kw = {"ema_decay": 0.9, "srn": RRDBNetConfig(nf=8, nb=1, gc=4), "vgg": SMALL_VGG, "disc": SMALL_D, "batch_size": 2, "lr_patch": 8, "iters": 4, "log_every": 1, "val_every": 100,
          "save_every": 100, **kw}
    return SRNTrainConfig.for_profile("tiny", situation, dsn_checkpoint=str(dsn_ckpt), **kw)


def same_state(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def dsn_ckpt(tmp_path_factory):
    return T.train_dsn(tiny_dsn(iters=2), tmp_path_factory.mktemp("dsn"), seed=0, quiet=True)


class TestConfigs:
    def test_paper_values(self):
        s = SRNTrainConfig.for_profile("paper")
        assert (s.w_pixel, s.w_percep, s.w_adv, s.batch_size, s.lr, s.ema_decay) == (0.01, 1.0, 0.005, 16, 1e-4, 0.999)
        assert s.gradient_norm == "l2" and s.w_lowpass == 0 and s.srn == RRDBNetConfig()
        d = DSNTrainConfig.for_profile("paper")
        assert (d.alpha_kl, d.alpha_per, d.alpha_adv, d.batch_size, d.lr_patch, d.lr) == (1.0, 0.01, 0.01, 16, 64, 1e-4)
        assert d.vgg.weights == "imagenet" and d.dsn == DSNConfig()

    def test_official_values(self):
        s = SRNTrainConfig.for_profile("official")
        assert (s.w_pixel, s.w_lowpass, s.w_percep, s.w_adv, s.batch_size, s.lr, s.ema_decay, s.iters) == (
            1.0, 1.0, 1.0, 0.1, 6, 5e-5, 0.0, 18000)
        assert s.gradient_norm == "l1"
        assert DSNTrainConfig.for_profile("official").lr == 5e-5
        assert DSNTrainConfig.for_profile("official").content == "lowpass_l1"
        assert DSNTrainConfig.for_profile("paper").content == "l1"  # Eq. 2 as printed

    def test_tiny_declares_random_vgg(self):
        assert DSNTrainConfig.for_profile("tiny").vgg.weights == "random"
        assert SRNTrainConfig.for_profile("tiny").vgg.weights == "random"

    def test_situations_match_table1(self):
        cols = {n: (s.pixel_uncertainty, s.feature_uncertainty, s.sampling != "none", s.gradient_d)
                for n, s in SITUATIONS.items()}
        assert cols == {1: (False, False, False, True), 2: (False, False, True, True), 3: (True, False, True, True),
                        4: (True, True, True, False), 5: (True, True, True, True)}
        assert PAPER_TABLE1[5] == (25.99, 0.7141, 0.2033)
        for n in SITUATIONS:
            c = DSNTrainConfig.for_profile("tiny", n)
            assert (c.dsn.pixel_uncertainty, c.dsn.feature_uncertainty) == cols[n][:2]

    def test_errors(self):
        with pytest.raises(ValueError, match="situation"):
            DSNTrainConfig.for_profile("tiny", 6)
        with pytest.raises(ValueError, match="needs DSNConfig"):
            dataclasses.replace(DSNTrainConfig.for_profile("tiny", 5), situation=1)
        with pytest.raises(ValueError, match="profile"):
            SRNTrainConfig.for_profile("huge")
        with pytest.raises(ValueError, match="gradient_norm"):
            SRNTrainConfig(gradient_norm="l3")
        with pytest.raises(ValueError, match="dsn_checkpoint"):
            T.train_srn(SRNTrainConfig.for_profile("tiny"), "/nonexistent")

    def test_paper_profile_needs_real_vgg(self, tmp_path, monkeypatch):
        monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
        monkeypatch.delenv("SRLIB_VGG19_WEIGHTS", raising=False)
        with pytest.raises(VGGWeightsUnavailableError, match="vgg19-dcbb9e9d.pth"):
            T.train_dsn(DSNTrainConfig.for_profile("paper"), tmp_path / "run", quiet=True)


class TestDSNTraining:
    def test_resume_is_bit_identical(self, tmp_path):
        cfg = tiny_dsn()
        a = T.train_dsn(cfg, tmp_path / "a", seed=3, quiet=True)
        assert T.train_dsn(cfg, tmp_path / "b", seed=3, max_steps=2, quiet=True).name == "last.pt"
        assert load_checkpoint(tmp_path / "b" / "checkpoints" / "last.pt")["step"] == 2
        b = T.train_dsn(cfg, tmp_path / "b", seed=3, quiet=True)
        assert same_state(load_checkpoint(a)["dsn"], load_checkpoint(b)["dsn"])
        la, lb = (load_checkpoint(p.parent / "last.pt") for p in (a, b))
        assert same_state(la["disc"], lb["disc"]) and la["opt_g"]["state"][0]["exp_avg"].equal(
            lb["opt_g"]["state"][0]["exp_avg"])
        assert [r["step"] for r in RunDir(tmp_path / "b").log.read() if "l_kl" in r] == [1, 2, 3, 4]
        assert (tmp_path / "b" / "config.json").is_file()
        c = T.train_dsn(dataclasses.replace(cfg, iters=1), tmp_path / "c", seed=4, quiet=True)
        assert not same_state(load_checkpoint(a)["dsn"], load_checkpoint(c)["dsn"])  # the seed matters

    def test_no_uncertainty_dsn_trains(self, tmp_path):
        path = T.train_dsn(tiny_dsn(1, iters=2), tmp_path, seed=0, quiet=True)
        net = T.load_dsn_checkpoint(path)
        assert not net.cfg.pixel_uncertainty and not hasattr(net, "var")

    def test_ctrl_c_saves_whole_steps(self, tmp_path, monkeypatch):
        cfg = tiny_dsn()
        ref = T.train_dsn(cfg, tmp_path / "ref", seed=1, quiet=True)
        orig = dsn_training.UnpairedSampler.sample
        calls = {"n": 0}

        def sample(self):
            calls["n"] += 1
            if calls["n"] == 2:  # Ctrl-C arrives during step 2
                os.kill(os.getpid(), signal.SIGINT)
            return orig(self)
        monkeypatch.setattr(dsn_training.UnpairedSampler, "sample", sample)
        with pytest.raises(KeyboardInterrupt, match="after step 2"):
            T.train_dsn(cfg, tmp_path / "run", seed=1, quiet=True)
        assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"] == 2
        monkeypatch.setattr(dsn_training.UnpairedSampler, "sample", orig)
        done = T.train_dsn(cfg, tmp_path / "run", seed=1, quiet=True)
        assert same_state(load_checkpoint(ref)["dsn"], load_checkpoint(done)["dsn"])


class TestSRNTraining:
    def test_resume_is_bit_identical_with_ema(self, tmp_path, dsn_ckpt):
        cfg = tiny_srn(dsn_ckpt)
        a = T.train_srn(cfg, tmp_path / "a", seed=0, quiet=True)
        T.train_srn(cfg, tmp_path / "b", seed=0, max_steps=2, quiet=True)
        b = T.train_srn(cfg, tmp_path / "b", seed=0, quiet=True)
        sa, sb = load_checkpoint(a), load_checkpoint(b)
        assert same_state(sa["net_g"], sb["net_g"]) and same_state(sa["net_g_ema"], sb["net_g_ema"])
        assert not same_state(sa["net_g"], sa["net_g_ema"])

    @pytest.mark.parametrize("number", [2, 4])
    def test_other_situations_run(self, tmp_path, dsn_ckpt, number):
        dsn = dsn_ckpt if number == 4 else T.train_dsn(tiny_dsn(number, iters=1), tmp_path / "dsn", quiet=True)
        path = T.train_srn(tiny_srn(dsn, number, iters=1, val_every=1, ema_decay=0.0), tmp_path / "srn", seed=0,
                           quiet=True)
        assert "net_g_ema" not in load_checkpoint(path)
        vals = [r for r in RunDir(tmp_path / "srn").log.read() if "val_psnr" in r]
        assert len(vals) == 1 and 5 < vals[0]["val_psnr"] < 40

    def test_theta_sampling_needs_theta(self, tmp_path):
        dsn = T.train_dsn(tiny_dsn(1, iters=1), tmp_path / "dsn", seed=0, quiet=True)
        with pytest.raises(ValueError, match="pixel-uncertainty"):
            T.train_srn(tiny_srn(dsn, 5), tmp_path / "srn", quiet=True)

    def test_upscaler_from_srlib_and_official(self, tmp_path, dsn_ckpt):
        path = T.train_srn(tiny_srn(dsn_ckpt, iters=1), tmp_path / "s", seed=0, quiet=True)
        up = T.load_upscaler(path)
        sr = up(torch.rand(1, 3, 6, 5))
        assert sr.shape == (1, 3, 24, 20) and 0 <= float(sr.min()) and float(sr.max()) <= 1
        assert "net_g_ema" in up.source
        net = RRDBNet(RRDBNetConfig(nf=8, nb=1, gc=4))
        torch.save({"params": net.state_dict()}, tmp_path / "esrgan.pth")
        up2 = T.load_upscaler(tmp_path / "esrgan.pth")
        x = torch.rand(1, 3, 4, 4)
        assert torch.equal(up2(x), net(x).clamp(0, 1))
        with pytest.raises(ValueError, match="expected lr"):
            up2(torch.rand(3, 4, 4))


class TestCLIAndEvaluation:
    def test_cli_tiny(self, tmp_path, capsys):
        assert T.cli_main(["--profile", "tiny", "--iters", "1", "--seed", "2", "--situation", "3",
                           "--out", str(tmp_path / "d")], stage="dsn") == 0
        dsn = tmp_path / "d" / "checkpoints" / "final.pt"
        assert load_checkpoint(dsn)["config"]["situation"] == 3 and load_checkpoint(dsn)["seed"] == 2
        assert T.cli_main(["--profile", "tiny", "--iters", "1", "--situation", "3", "--dsn-checkpoint", str(dsn),
                           "--out", str(tmp_path / "s")], stage="srn") == 0
        assert load_checkpoint(tmp_path / "s" / "checkpoints" / "final.pt")["config"]["situation"] == 3
        assert "saved" in capsys.readouterr().out

    def test_cli_paper_needs_folders(self, tmp_path):
        with pytest.raises(SystemExit):
            T.cli_main(["--profile", "paper", "--out", str(tmp_path)], stage="dsn")

    def test_lpips_never_from_a_random_backbone(self, monkeypatch):
        hr = torch.rand(3, 32, 32)
        lr = torch.nn.functional.avg_pool2d(hr[None], 4)[0]
        up = lambda x: torch.nn.functional.interpolate(x, scale_factor=4, mode="bicubic")  # noqa: E731
        monkeypatch.setattr(ev.metrics, "lpips_available", lambda *a: False)
        r = ev.evaluate_upscaler(up, [("x", lr, hr)])
        assert r["lpips"] == "unavailable" and r["niqe"].startswith("missing")
        assert 5 < r["psnr"] < 40 and 0 < r["ssim"] < 1

        class FakeLPIPS:
            def __call__(self, a, b):
                return torch.tensor([0.25])
        monkeypatch.setattr(ev.metrics, "lpips_available", lambda *a: True)
        monkeypatch.setattr(ev.metrics, "LPIPS", FakeLPIPS)
        assert ev.evaluate_upscaler(up, [("x", lr, hr)])["lpips"] == 0.25
