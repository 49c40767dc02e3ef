"""USR-DU training: configs and profiles, Table 1 situations, the trainer contract (bit-identical resume, config check
on resume, Ctrl-C, weights-only checkpoints), validation mode, CLI."""
import dataclasses
import os
import signal

import pytest
import torch

from srlib.errors import CheckpointError, UsageError
from srlib.runs import RunDir, TrainingInterrupted, load_checkpoint
from srlib import evaluate as ev
from srlib.usrdu import train_dsn as TD
from srlib.usrdu import train_srn as TS
from srlib.usrdu.discriminator import UNetDConfig
from srlib.usrdu.dsn import DSN, DSNConfig
from srlib.usrdu.rrdbnet import RRDBNet, RRDBNetConfig
from srlib.usrdu.train_config import PAPER_TABLE1, SITUATIONS, DSNTrainConfig, SRNTrainConfig
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
    kw = {"ema_decay": 0.9, "srn": RRDBNetConfig(nf=8, nb=1, gc=4), "vgg": SMALL_VGG, "disc": SMALL_D,
          "batch_size": 2, "lr_patch": 8, "iters": 4, "log_every": 1, "val_every": 100, "save_every": 100, **kw}
    return SRNTrainConfig.for_profile("tiny", situation, dsn_checkpoint=str(dsn_ckpt), **kw)


def same_state(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def interrupt_at(n):
    """A callback that sends a real SIGINT (Ctrl-C) to this process after step ``n``."""
    def callback(step, record):
        assert isinstance(record["loss"], float) and record["step"] == step
        if step == n:
            os.kill(os.getpid(), signal.SIGINT)
    return callback


@pytest.fixture(scope="module")
def dsn_ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("dsn")
    TD.train_dsn(tiny_dsn(iters=2), out, quiet=True)
    return RunDir(out).final


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

    def test_seed_and_iteration_cap_are_fields(self):
        for cls in (DSNTrainConfig, SRNTrainConfig):
            assert cls.PROFILES == ("tiny", "small", "paper", "official")
            c = cls.for_profile("tiny", 3, seed=7, max_iters=5)
            assert (c.situation, c.seed, c.max_iters, c.total_iters) == (3, 7, 5, 5)
            assert cls.for_profile("tiny", max_iters=10 ** 9).total_iters == c.iters  # min(iters, max_iters)
            assert cls.for_profile("tiny").max_iters is None and cls.for_profile("tiny").total_iters == c.iters

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
        with pytest.raises(UsageError, match="situation"):
            DSNTrainConfig.for_profile("tiny", 6)
        with pytest.raises(UsageError, match="needs DSNConfig"):
            dataclasses.replace(DSNTrainConfig.for_profile("tiny", 5), situation=1)
        with pytest.raises(UsageError, match="profile 'huge'"):
            SRNTrainConfig.for_profile("huge")
        with pytest.raises(UsageError, match="gradient_norm"):
            SRNTrainConfig(gradient_norm="l3")
        with pytest.raises(UsageError, match="seed"):
            DSNTrainConfig.for_profile("tiny", seed=-1)
        with pytest.raises(UsageError, match="max_iters"):
            SRNTrainConfig.for_profile("tiny", max_iters=-1)
        with pytest.raises(UsageError, match="dsn_checkpoint"):
            TS.train_srn(SRNTrainConfig.for_profile("tiny"), "/nonexistent")

    def test_paper_profile_needs_real_vgg(self, tmp_path, monkeypatch):
        monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
        monkeypatch.delenv("SRLIB_VGG19_WEIGHTS", raising=False)
        with pytest.raises(VGGWeightsUnavailableError, match="vgg19-dcbb9e9d.pth"):
            TD.train_dsn(DSNTrainConfig.for_profile("paper"), tmp_path / "run", quiet=True)


class TestDSNTraining:
    def test_resume_is_bit_identical(self, tmp_path):
        cfg = tiny_dsn(seed=3)
        a = TD.train_dsn(cfg, tmp_path / "a", quiet=True)
        assert isinstance(a, DSN) and not a.training
        part = TD.train_dsn(dataclasses.replace(cfg, max_iters=2), tmp_path / "b", quiet=True)
        assert load_checkpoint(RunDir(tmp_path / "b").last)["step"] == 2
        assert load_checkpoint(RunDir(tmp_path / "b").final)["step"] == 2  # the truncated schedule completed
        assert not same_state(part.state_dict(), a.state_dict())
        b = TD.train_dsn(cfg, tmp_path / "b", quiet=True)  # max_iters may change on resume
        assert same_state(a.state_dict(), b.state_dict())
        fa, fb = (load_checkpoint(RunDir(tmp_path / k).final) for k in "ab")
        assert fa["step"] == fb["step"] == 4 and same_state(fa["dsn"], fb["dsn"])
        assert same_state(fa["dsn"], b.state_dict())  # the returned model is the final one
        la, lb = (load_checkpoint(RunDir(tmp_path / k).last) for k in "ab")
        assert same_state(la["disc"], lb["disc"]) and la["opt_g"]["state"][0]["exp_avg"].equal(
            lb["opt_g"]["state"][0]["exp_avg"])
        assert [r["step"] for r in RunDir(tmp_path / "b").log.read() if "l_kl" in r] == [1, 2, 3, 4]
        assert (tmp_path / "b" / "config.json").is_file()
        c = TD.train_dsn(dataclasses.replace(cfg, seed=4, iters=1), tmp_path / "c", quiet=True)
        assert not same_state(fa["dsn"], load_checkpoint(RunDir(tmp_path / "c").final)["dsn"])  # the seed matters

    def test_resume_with_another_config_says_how_to_start_again(self, tmp_path):
        cfg = tiny_dsn(iters=2)
        TD.train_dsn(cfg, tmp_path, quiet=True)
        other = dataclasses.replace(cfg, lr=cfg.lr * 2)
        with pytest.raises(CheckpointError, match=r"different config \(fields \['lr'\]\).*--no-resume"):
            TD.train_dsn(other, tmp_path, quiet=True)
        with pytest.raises(CheckpointError, match="different config.*seed"):
            TD.train_dsn(dataclasses.replace(cfg, seed=cfg.seed + 1), tmp_path, quiet=True)
        old = load_checkpoint(RunDir(tmp_path).last)  # a last.pt of srlib < 0.2: seed beside the config, no format
        old["seed"] = old["config"].pop("seed")
        del old["config"]["max_iters"], old["format"]
        torch.save(old, RunDir(tmp_path).last)
        with pytest.raises(CheckpointError, match=r"\['seed'\].*--no-resume"):
            TD.train_dsn(cfg, tmp_path, quiet=True)
        fresh = TD.train_dsn(other, tmp_path, resume=False, quiet=True)  # starting again works
        assert load_checkpoint(RunDir(tmp_path).final)["config"]["lr"] == other.lr
        assert same_state(fresh.state_dict(), TD.train_dsn(other, tmp_path / "ref", quiet=True).state_dict())
        assert [r["step"] for r in RunDir(tmp_path).log.read() if "l_kl" in r] == [1, 2]

    def test_sigint_saves_last_and_resumes_bit_identical(self, tmp_path):
        cfg = tiny_dsn(seed=1)
        ref = TD.train_dsn(cfg, tmp_path / "ref", quiet=True)
        run = RunDir(tmp_path / "run")
        with pytest.raises(TrainingInterrupted, match="after step 2") as info:
            TD.train_dsn(cfg, run.root, quiet=True, callback=interrupt_at(2))
        assert info.value.step == 2 and info.value.checkpoint == run.last
        assert load_checkpoint(run.last)["step"] == 2 and not run.final.exists()
        done = TD.train_dsn(cfg, run.root, quiet=True)
        assert same_state(ref.state_dict(), done.state_dict())
        assert same_state(load_checkpoint(RunDir(tmp_path / "ref").last)["opt_d"]["state"][0],
                          load_checkpoint(run.last)["opt_d"]["state"][0])

    def test_checkpoints_load_weights_only(self, tmp_path):
        TD.train_dsn(tiny_dsn(iters=1), tmp_path, quiet=True)
        last = torch.load(RunDir(tmp_path).last, weights_only=True)
        final = torch.load(RunDir(tmp_path).final, weights_only=True)
        assert last["kind"] == final["kind"] == "usrdu-dsn" and "rng" in last and "opt_g" in last
        assert set(final) == {"kind", "format", "config", "step", "dsn"}

    def test_no_uncertainty_dsn_trains(self, tmp_path):
        TD.train_dsn(tiny_dsn(1, iters=2), tmp_path, quiet=True)
        net = TD.load_dsn_checkpoint(RunDir(tmp_path).final)
        assert not net.cfg.pixel_uncertainty and not hasattr(net, "var") and not net.training

    def test_validation_keeps_the_mode(self, tmp_path):
        net = DSN(tiny_dsn().dsn)
        val = [("x", torch.rand(3, 12, 12), torch.rand(3, 48, 48))]
        for mode in (True, False):
            net.train(mode)
            res = TD.dsn_validation(net, val)
            assert net.training == mode and set(res) == {"psnr_yg", "psnr_bicubic"}


class TestSRNTraining:
    def test_resume_is_bit_identical_with_ema(self, tmp_path, dsn_ckpt):
        cfg = tiny_srn(dsn_ckpt)
        a = TS.train_srn(cfg, tmp_path / "a", quiet=True)
        assert isinstance(a, RRDBNet) and not a.training
        TS.train_srn(dataclasses.replace(cfg, max_iters=2), tmp_path / "b", quiet=True)
        b = TS.train_srn(cfg, tmp_path / "b", quiet=True)
        sa, sb = (load_checkpoint(RunDir(tmp_path / k).final) for k in "ab")
        assert same_state(sa["net_g"], sb["net_g"]) and same_state(sa["net_g_ema"], sb["net_g_ema"])
        assert not same_state(sa["net_g"], sa["net_g_ema"])
        assert same_state(b.state_dict(), sa["net_g_ema"])  # the returned model is the EMA one

    def test_resume_with_another_config_and_sigint(self, tmp_path, dsn_ckpt):
        cfg = tiny_srn(dsn_ckpt, ema_decay=0.0)
        ref = TS.train_srn(cfg, tmp_path / "ref", quiet=True)
        run = RunDir(tmp_path / "run")
        with pytest.raises(TrainingInterrupted, match="after step 3"):
            TS.train_srn(cfg, run.root, quiet=True, callback=interrupt_at(3))
        with pytest.raises(CheckpointError, match=r"\['w_adv'\].*--no-resume"):
            TS.train_srn(dataclasses.replace(cfg, w_adv=0.5), run.root, quiet=True)
        done = TS.train_srn(cfg, run.root, quiet=True)
        assert same_state(ref.state_dict(), done.state_dict())
        assert same_state(load_checkpoint(run.final)["net_g"], ref.state_dict())  # no EMA: net_g is returned

    @pytest.mark.parametrize("number", [2, 4])
    def test_other_situations_run(self, tmp_path, dsn_ckpt, number):
        dsn = dsn_ckpt
        if number != 4:
            TD.train_dsn(tiny_dsn(number, iters=1), tmp_path / "dsn", quiet=True)
            dsn = RunDir(tmp_path / "dsn").final
        TS.train_srn(tiny_srn(dsn, number, iters=1, val_every=1, ema_decay=0.0), tmp_path / "srn", quiet=True)
        assert "net_g_ema" not in load_checkpoint(RunDir(tmp_path / "srn").final)
        vals = [r for r in RunDir(tmp_path / "srn").log.read() if "val_psnr" in r]
        assert len(vals) == 1 and 5 < vals[0]["val_psnr"] < 40

    def test_theta_sampling_needs_theta(self, tmp_path):
        TD.train_dsn(tiny_dsn(1, iters=1), tmp_path / "dsn", quiet=True)
        with pytest.raises(ValueError, match="pixel-uncertainty"):
            TS.train_srn(tiny_srn(RunDir(tmp_path / "dsn").final, 5), tmp_path / "srn", quiet=True)

    def test_checkpoints_load_weights_only(self, tmp_path, dsn_ckpt):
        TS.train_srn(tiny_srn(dsn_ckpt, iters=1), tmp_path, quiet=True)
        last = torch.load(RunDir(tmp_path).last, weights_only=True)
        final = torch.load(RunDir(tmp_path).final, weights_only=True)
        assert last["kind"] == final["kind"] == "usrdu-srn" and "rng" in last and "opt_d" in last
        assert set(final) == {"kind", "format", "config", "step", "net_g", "net_g_ema"}
        net = RRDBNet(RRDBNetConfig(nf=8, nb=1, gc=4))
        net.load_state_dict(final["net_g_ema"])
        with pytest.raises(CheckpointError, match="'usrdu-srn' checkpoint, not a USR-DU DSN"):
            TD.load_dsn_checkpoint(RunDir(tmp_path).final)

    def test_validation_keeps_the_mode(self):
        net = RRDBNet(RRDBNetConfig(nf=8, nb=1, gc=4))
        val = [("x", torch.rand(3, 12, 12), torch.rand(3, 48, 48))]
        for mode in (True, False):
            net.train(mode)
            res = TS._validate(net, val, torch.device("cpu"))
            assert net.training == mode and 0 < res["psnr"] < 40


class TestCLIAndEvaluation:
    def test_cli_tiny(self, tmp_path, capsys):
        assert TD.cli_main(["--profile", "tiny", "--iters", "1", "--seed", "2", "--situation", "3",
                            "--out", str(tmp_path / "d")]) == 0
        dsn = RunDir(tmp_path / "d").final
        cfg = load_checkpoint(dsn)["config"]
        assert (cfg["situation"], cfg["seed"], cfg["max_iters"], load_checkpoint(dsn)["step"]) == (3, 2, 1, 1)
        assert TS.cli_main(["--profile", "tiny", "--iters", "1", "--situation", "3", "--dsn-checkpoint", str(dsn),
                            "--out", str(tmp_path / "s")]) == 0
        cfg = load_checkpoint(RunDir(tmp_path / "s").final)["config"]
        assert (cfg["situation"], cfg["seed"], cfg["dsn_checkpoint"]) == (3, 0, str(dsn))
        assert "done: " in capsys.readouterr().out
        # another seed in the same folder: resuming refuses, --no-resume starts over
        with pytest.raises(CheckpointError, match="--no-resume"):
            TD.cli_main(["--iters", "1", "--seed", "5", "--situation", "3", "--out", str(tmp_path / "d")])
        assert TD.cli_main(["--iters", "1", "--seed", "5", "--situation", "3", "--no-resume",
                            "--out", str(tmp_path / "d")]) == 0
        assert load_checkpoint(dsn)["config"]["seed"] == 5

    def test_cli_errors(self, tmp_path):
        with pytest.raises(UsageError, match="--hr-dir"):
            TD.cli_main(["--profile", "paper", "--out", str(tmp_path)])
        with pytest.raises(SystemExit):  # argparse: choices come from the config's PROFILES
            TD.cli_main(["--profile", "huge", "--out", str(tmp_path)])
        with pytest.raises(SystemExit):
            TS.cli_main(["--out", str(tmp_path)])  # --dsn-checkpoint is required

    def test_cli_interrupted_returns_130(self, tmp_path, monkeypatch, capsys):
        def stopped(cfg, out, **kw):
            raise TrainingInterrupted(7, RunDir(out).last)
        monkeypatch.setattr(TD, "train_dsn", stopped)
        assert TD.cli_main(["--out", str(tmp_path)]) == 130
        assert "after step 7" in capsys.readouterr().err

    def test_lpips_never_from_a_random_backbone(self, monkeypatch):
        hr = torch.rand(3, 32, 32)
        lr = torch.nn.functional.avg_pool2d(hr[None], 4)[0]
        up = lambda x: torch.nn.functional.interpolate(x, scale_factor=4, mode="bicubic")  # noqa: E731
        monkeypatch.setattr(ev.metrics, "lpips_available", lambda *a: False)
        r = ev.evaluate_pairs(up, [("x", lr, hr)])
        assert r["lpips"] == "unavailable" and r["niqe"].startswith("missing")
        assert 5 < r["psnr"] < 40 and 0 < r["ssim"] < 1

        class FakeLPIPS:
            def __call__(self, a, b):
                return torch.tensor([0.25])
        monkeypatch.setattr(ev.metrics, "lpips_available", lambda *a: True)
        monkeypatch.setattr(ev.metrics, "LPIPS", FakeLPIPS)
        assert ev.evaluate_pairs(up, [("x", lr, hr)])["lpips"] == 0.25


def test_the_chapters_loop_excerpts_start_at_the_steps():
    """Chapters 5 and 6 show the training loops with show_source(start=..., stop=...): the markers must find the step
    comments, not an earlier line that happens to contain the same words."""
    from srlib.show import source

    dsn = source(TD.train_dsn, start="# D step", stop="scaler_g.update()").splitlines()
    srn = source(TS.train_srn, start="# G step", stop="scaler_d.update()").splitlines()
    assert dsn[0].startswith("# D step (paper Eq. 6)") and any(ln.startswith("# G step (paper Eq. 7)") for ln in dsn)
    assert srn[0].startswith("# G step (paper Eq. 12)") and any("# D step (paper Eq. 10)" in ln for ln in srn)
    assert len(dsn) < 30 and len(srn) < 35
