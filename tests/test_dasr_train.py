"""DASR training: config/schedule, ablation configs, a smoke run, exact resumption, Ctrl-C handling, CLI."""
from __future__ import annotations

import json

import os
import signal

import pytest
import torch

from srlib.config import load_config
from srlib.dasr.ablations import ABLATIONS, TABLE1_SIGMAS, ablation_config, ablation_table, inference_parameters
from srlib.dasr.config import DASRConfig
from srlib.dasr.network import BlindSR
from srlib.dasr.train import cli_main, load_trained, synthesize, train_dasr
from srlib.dasr.train_config import DASRTrainConfig


def micro(**kw) -> DASRTrainConfig:
    """Smallest sensible run: 4 images x 2 patches of 8 px, 2-iteration epochs, stage 1 then stage 2."""
    base = dict(batch_size=4, patch_size=8, iters_per_epoch=2, epochs_encoder=1, epochs_sr=2, log_every=1,
                save_every=100, lr_decay_encoder=1, lr_decay_sr=1)
    base.update(kw)
    cfg = DASRTrainConfig.profile_config("tiny", ablation=base.pop("ablation", "model4"), scale=base.pop("scale", 2))
    model = DASRConfig.profile("tiny", scale=cfg.model.scale, n_feats=8, n_groups=1, n_blocks=1, enc_widths=(4, 8, 8),
                               queue_size=8)
    model = ablation_config(cfg.ablation, model)
    from dataclasses import replace

    return replace(cfg, model=model, **base)


def weights(model: BlindSR) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


class TestTrainConfig:
    def test_paper_schedule(self):
        cfg = DASRTrainConfig.profile_config("paper")
        assert (cfg.batch_size, cfg.patch_size, cfg.iters_per_epoch) == (32, 48, 970)
        assert cfg.stage1_iters == 97_000 and cfg.total_iters == 600 * 970
        assert cfg.model == DASRConfig() and cfg.betas == (0.9, 0.999)
        assert cfg.lr_at(0) == 1e-3 and cfg.lr_at(59 * 970) == pytest.approx(1e-4)
        assert cfg.lr_at(100 * 970) == 1e-4 and cfg.lr_at(224 * 970) == 5e-5 and cfg.lr_at(599 * 970) == 6.25e-6

    def test_ablation_profiles(self):
        m1 = DASRTrainConfig.profile_config("paper", ablation="model1")
        assert m1.epochs_encoder == 0 and not m1.contrastive and m1.stage(0) == 2 and m1.lr_at(0) == 1e-4
        assert DASRTrainConfig.profile_config("paper", ablation="model5").model.source == "kernel"
        assert DASRTrainConfig.profile_config("tiny", setting="aniso").setting == "aniso"

    def test_bad_config(self):
        with pytest.raises(ValueError, match="multiple of batch_size"):
            DASRTrainConfig.profile_config("tiny", batch_size=7)
        with pytest.raises(ValueError, match="setting"):
            DASRTrainConfig.profile_config("tiny", setting="real")
        with pytest.raises(ValueError, match="ablation"):
            DASRTrainConfig.profile_config("tiny", ablation="model9")


class TestAblations:
    @pytest.mark.parametrize("name", sorted(ABLATIONS))
    def test_builds_and_runs(self, name):
        torch.manual_seed(0)
        cfg = ablation_config(name, DASRConfig.profile("tiny", scale=2))
        model = BlindSR(cfg).eval()
        lr = torch.rand(2, 3, 8, 8)
        kernel = torch.full((2, 21, 21), 1 / 441) if name == "model5" else None
        with torch.no_grad():
            assert model(lr, kernel=kernel).shape == (2, 3, 16, 16)
        assert inference_parameters(cfg) > 0

    def test_widths_matched_at_paper_size(self):
        rows = {r["model"]: r for r in ablation_table(DASRConfig())}
        full = rows["model4"]["params"]
        assert full == 5_837_699
        assert rows["model2"]["n_feats"] < 64  # concatenation convs are wider: fewer channels for the same budget
        for name in ("model2", "model3"):
            assert abs(rows[name]["params"] - full) / full < 0.03, rows[name]
        assert all(len(a.paper_psnr) == len(TABLE1_SIGMAS) for a in ABLATIONS.values())

    def test_oracle_needs_kernel(self):
        model = BlindSR(ablation_config("model5", DASRConfig.profile("tiny"))).eval()
        with pytest.raises(ValueError, match="true kernels"):
            model(torch.rand(1, 3, 8, 8))


class TestSynthesize:
    def test_pairs_share_the_degradation(self):
        hr = torch.rand(2, 1, 3, 16, 16).expand(2, 2, 3, 16, 16).contiguous()
        kernels = torch.zeros(2, 21, 21)
        kernels[:, 10, 10] = 1
        lr = synthesize(hr, kernels, torch.zeros(2), 2, generator=None)
        assert lr.shape == (2, 2, 3, 8, 8) and torch.equal(lr[:, 0], lr[:, 1])
        assert torch.equal(lr, torch.round(lr * 255) / 255)


class TestTrainLoop:
    def test_smoke_and_outputs(self, tmp_path):
        cfg = micro()
        model = train_dasr(cfg, tmp_path, quiet=True, device="cpu")
        assert not model.training
        rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
        assert [r["step"] for r in rows] == list(range(1, cfg.total_iters + 1))
        assert [r["stage"] for r in rows] == [1, 1, 2, 2, 2, 2]
        assert rows[0]["l1"] == 0 and rows[-1]["l1"] > 0 and 0 <= rows[-1]["acc"] <= 1
        assert {"loss", "contrastive", "lr"} <= set(rows[0])
        assert load_config(DASRTrainConfig, tmp_path / "config.json") == cfg
        for name in ("last", "stage1", "final"):
            assert (tmp_path / "checkpoints" / f"{name}.pt").is_file()
        again = load_trained(tmp_path / "checkpoints" / "final.pt")
        lr = torch.rand(1, 3, 8, 8)
        with torch.no_grad():
            torch.testing.assert_close(again(lr), model(lr))

    def test_only_trainable_parameters_in_optimizer(self, tmp_path):
        model = train_dasr(micro(epochs_encoder=0, epochs_sr=1), tmp_path, quiet=True, device="cpu")
        state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=False)
        n_groups_params = len(state["optimizer"]["param_groups"][0]["params"])
        assert n_groups_params == sum(1 for p in model.parameters() if p.requires_grad)
        assert torch.equal(model.G.sub_mean.bias, -255 * torch.tensor([0.4488, 0.4371, 0.4040]))

    @pytest.mark.parametrize("ablation", ["model4", "model5"])
    def test_resume_is_bit_exact(self, tmp_path, ablation):
        cfg = micro(ablation=ablation, epochs_encoder=1 if ablation == "model4" else 0)
        n = cfg.total_iters
        straight = weights(train_dasr(cfg, tmp_path / "a", quiet=True, device="cpu"))
        from dataclasses import replace

        train_dasr(replace(cfg, max_iters=n // 2), tmp_path / "b", quiet=True, device="cpu")
        resumed = weights(train_dasr(cfg, tmp_path / "b", quiet=True, device="cpu"))
        assert straight.keys() == resumed.keys()
        for k in straight:
            assert torch.equal(straight[k], resumed[k]), k
        steps = [json.loads(line)["step"] for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
        assert steps == list(range(1, n + 1))

    def test_interrupt_saves_and_resumes_exactly(self, tmp_path):
        cfg = micro()
        straight = weights(train_dasr(cfg, tmp_path / "a", quiet=True, device="cpu"))

        def stop_at_3(step, record):
            if step == 3:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            train_dasr(cfg, tmp_path / "b", quiet=True, device="cpu", callback=stop_at_3)
        assert torch.load(tmp_path / "b" / "checkpoints" / "last.pt", weights_only=False)["step"] == 3
        resumed = weights(train_dasr(cfg, tmp_path / "b", quiet=True, device="cpu"))
        assert all(torch.equal(straight[k], resumed[k]) for k in straight)

    def test_real_sigint_saves_and_resumes_exactly(self, tmp_path):
        cfg = micro()
        straight = weights(train_dasr(cfg, tmp_path / "a", quiet=True, device="cpu"))

        def ctrl_c_at_3(step, record):
            if step == 3:
                os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends

        with pytest.raises(KeyboardInterrupt):
            train_dasr(cfg, tmp_path / "b", quiet=True, device="cpu", callback=ctrl_c_at_3)
        assert torch.load(tmp_path / "b" / "checkpoints" / "last.pt", weights_only=False)["step"] == 3
        resumed = weights(train_dasr(cfg, tmp_path / "b", quiet=True, device="cpu"))
        assert all(torch.equal(straight[k], resumed[k]) for k in straight)

    def test_resume_refuses_other_config(self, tmp_path):
        train_dasr(micro(max_iters=1), tmp_path, quiet=True, device="cpu")
        with pytest.raises(ValueError, match="different config"):
            train_dasr(micro(batch_size=2), tmp_path, quiet=True, device="cpu")

    def test_cli(self, tmp_path, capsys):
        assert cli_main(["--profile", "tiny", "--scale", "2", "--iters", "2", "--out", str(tmp_path)]) == 0
        assert (tmp_path / "checkpoints" / "last.pt").is_file()
        with pytest.raises(SystemExit):
            cli_main(["--profile", "huge", "--out", str(tmp_path)])
