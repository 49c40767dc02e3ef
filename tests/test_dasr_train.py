"""DASR training: config/schedule, ablation configs, a smoke run, exact resumption, Ctrl-C handling, CLI."""
from __future__ import annotations

import json
import os
import signal
from dataclasses import replace

import numpy as np
import pytest
import torch

from srlib import runs
from srlib.config import load_config
from srlib.dasr import train as dasr_train
from srlib.dasr.ablations import ABLATIONS, TABLE1_SIGMAS, ablation_config, ablation_table, inference_parameters
from srlib.dasr.config import DASRConfig
from srlib.dasr.network import BlindSR
from srlib.dasr.train import cli_main, load_trained, model_from_checkpoint, synthesize, train_dasr
from srlib.dasr.train_config import DASRTrainConfig
from srlib.errors import CheckpointError, UsageError


def micro(**kw) -> DASRTrainConfig:
    """Smallest sensible run: 4 images x 2 patches of 8 px, 2-iteration epochs, stage 1 then stage 2."""
    base = dict(batch_size=4, patch_size=8, iters_per_epoch=2, epochs_encoder=1, epochs_sr=2, log_every=1,
                save_every=100, lr_decay_encoder=1, lr_decay_sr=1)
    base.update(kw)
    cfg = DASRTrainConfig.for_profile("tiny", ablation=base.pop("ablation", "model4"), scale=base.pop("scale", 2))
    model = DASRConfig.for_profile("tiny", scale=cfg.model.scale, n_feats=8, n_groups=1, n_blocks=1,
                                   enc_widths=(4, 8, 8), queue_size=8)
    model = ablation_config(cfg.ablation, model)
    return replace(cfg, model=model, **base)


def weights(model: BlindSR) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


class TestTrainConfig:
    def test_paper_schedule(self):
        cfg = DASRTrainConfig.for_profile("paper")
        assert (cfg.batch_size, cfg.patch_size, cfg.iters_per_epoch) == (32, 48, 970)
        assert cfg.stage1_iters == 97_000 and cfg.total_iters == 600 * 970
        assert cfg.model == DASRConfig() and cfg.betas == (0.9, 0.999)
        assert cfg.lr_at(0) == 1e-3 and cfg.lr_at(59 * 970) == pytest.approx(1e-4)
        assert cfg.lr_at(100 * 970) == 1e-4 and cfg.lr_at(224 * 970) == 5e-5 and cfg.lr_at(599 * 970) == 6.25e-6

    def test_ablation_profiles(self):
        m1 = DASRTrainConfig.for_profile("paper", ablation="model1")
        assert m1.epochs_encoder == 0 and not m1.contrastive and m1.stage(0) == 2 and m1.lr_at(0) == 1e-4
        assert DASRTrainConfig.for_profile("paper", ablation="model5").model.source == "kernel"
        assert DASRTrainConfig.for_profile("tiny", setting="aniso").setting == "aniso"

    def test_bad_config(self):
        with pytest.raises(ValueError, match="multiple of batch_size"):
            DASRTrainConfig.for_profile("tiny", batch_size=7)
        with pytest.raises(ValueError, match="setting"):
            DASRTrainConfig.for_profile("tiny", setting="real")
        with pytest.raises(ValueError, match="ablation"):
            DASRTrainConfig.for_profile("tiny", ablation="model9")
        with pytest.raises(UsageError, match="not available here; expected one of 'tiny', 'small', 'paper'"):
            DASRTrainConfig.for_profile("official")  # a USR-DU profile: DASR has no official schedule
        with pytest.raises(UsageError, match="unknown profile 'huge'"):
            DASRConfig.for_profile("huge")
        assert DASRTrainConfig.PROFILES == DASRConfig.PROFILES == ("tiny", "small", "paper")
        assert "PROFILES" not in DASRTrainConfig.__dataclass_fields__  # a class attribute, not a config field


class TestWithIters:
    """The schedule helper the chapters call at tiny (stage lengths in iterations, LR steps moved with them)."""

    @staticmethod
    def chapter_rule(cfg, encoder_iters, sr_iters):
        """What chapters 3 and 4 computed by hand before the helper existed (chapter 4 had every guard)."""
        e1 = encoder_iters // cfg.iters_per_epoch if cfg.epochs_encoder else 0
        e2 = max(1, sr_iters // cfg.iters_per_epoch)
        return replace(cfg, epochs_encoder=e1, lr_decay_encoder=max(1, int(0.6 * e1)), epochs_sr=e2,
                       lr_decay_sr=max(1, e2 // 2))

    @pytest.mark.parametrize("ablation", sorted(ABLATIONS))
    @pytest.mark.parametrize("iters", [(100, 200), (200, 900), (600, 300), (0, 10), (37, 1)])
    def test_matches_the_chapters(self, ablation, iters):
        cfg = DASRTrainConfig.for_profile("tiny", ablation=ablation, seed=3)
        assert cfg.with_iters(*iters) == self.chapter_rule(cfg, *iters)

    def test_lengths_and_learning_rates(self):
        cfg = DASRTrainConfig.for_profile("tiny").with_iters(encoder_iters=100, sr_iters=200)
        assert (cfg.stage1_iters, cfg.total_iters) == (100, 300)
        # stage 1: x0.1 after int(0.6 * 4) = 2 epochs; stage 2: halved every 8 // 2 = 4 epochs (1-based epochs)
        assert [cfg.lr_at(e * 25) for e in range(4)] == pytest.approx([1e-3, 1e-4, 1e-4, 1e-5])
        assert [cfg.lr_at(100 + e * 25) for e in (0, 2, 3, 6, 7)] == pytest.approx([2e-3, 2e-3, 1e-3, 1e-3, 5e-4])

    def test_guards(self):
        cfg = DASRTrainConfig.for_profile("tiny")
        assert cfg.with_iters() == cfg and cfg.with_iters(sr_iters=50).epochs_encoder == cfg.epochs_encoder
        none = cfg.with_iters(encoder_iters=0)
        assert (none.epochs_encoder, none.lr_decay_encoder, none.stage(0)) == (0, 1, 2)
        assert cfg.with_iters(sr_iters=3).epochs_sr == 1  # shorter than an epoch: one epoch, not zero
        with pytest.raises(UsageError, match="max_iters=cfg.stage1_iters"):
            cfg.with_iters(sr_iters=0)
        with pytest.raises(UsageError, match="encoder_iters"):
            cfg.with_iters(encoder_iters=-25)
        oracle = DASRTrainConfig.for_profile("tiny", ablation="model5").with_iters(encoder_iters=500)
        assert oracle.epochs_encoder == 0 and oracle.stage1_iters == 0


class TestAblations:
    @pytest.mark.parametrize("name", sorted(ABLATIONS))
    def test_builds_and_runs(self, name):
        torch.manual_seed(0)
        cfg = ablation_config(name, DASRConfig.for_profile("tiny", scale=2))
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
        model = BlindSR(ablation_config("model5", DASRConfig.for_profile("tiny"))).eval()
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
        state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
        n_groups_params = len(state["optimizer"]["param_groups"][0]["params"])
        assert n_groups_params == sum(1 for p in model.parameters() if p.requires_grad)
        assert torch.equal(model.G.sub_mean.bias, -255 * torch.tensor([0.4488, 0.4371, 0.4040]))

    @pytest.mark.parametrize("ablation", ["model4", "model5"])
    def test_resume_is_bit_exact(self, tmp_path, ablation):
        cfg = micro(ablation=ablation, epochs_encoder=1 if ablation == "model4" else 0)
        n = cfg.total_iters
        straight = weights(train_dasr(cfg, tmp_path / "a", quiet=True, device="cpu"))
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

        with pytest.raises(runs.TrainingInterrupted) as caught:
            train_dasr(cfg, tmp_path / "b", quiet=True, device="cpu", callback=stop_at_3)
        last = tmp_path / "b" / "checkpoints" / "last.pt"
        assert caught.value.step == 3 and caught.value.checkpoint == last and "resume" in str(caught.value)
        assert torch.load(last, weights_only=True)["step"] == 3
        resumed = weights(train_dasr(cfg, tmp_path / "b", quiet=True, device="cpu"))
        assert all(torch.equal(straight[k], resumed[k]) for k in straight)

    def test_real_sigint_saves_and_resumes_exactly(self, tmp_path):
        cfg = micro()
        straight = weights(train_dasr(cfg, tmp_path / "a", quiet=True, device="cpu"))

        def ctrl_c_at_3(step, record):
            if step == 3:
                os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends

        with pytest.raises(runs.TrainingInterrupted):
            train_dasr(cfg, tmp_path / "b", quiet=True, device="cpu", callback=ctrl_c_at_3)
        assert torch.load(tmp_path / "b" / "checkpoints" / "last.pt", weights_only=True)["step"] == 3
        resumed = weights(train_dasr(cfg, tmp_path / "b", quiet=True, device="cpu"))
        assert all(torch.equal(straight[k], resumed[k]) for k in straight)

    def test_resume_refuses_other_config(self, tmp_path):
        train_dasr(micro(max_iters=1), tmp_path, quiet=True, device="cpu")
        with pytest.raises(CheckpointError, match=r"different config \(fields \['batch_size'\]\).*--no-resume"):
            train_dasr(micro(batch_size=2), tmp_path, quiet=True, device="cpu")
        # the way out that the message names works
        train_dasr(micro(batch_size=2), tmp_path, resume=False, quiet=True, device="cpu")
        assert torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)["config"]["batch_size"] == 2

    def test_no_resume_leaves_no_stale_final(self, tmp_path):
        """A run started again is interrupted before its first save: the old final.pt must not survive it."""
        train_dasr(micro(max_iters=2), tmp_path, quiet=True, device="cpu")
        assert (tmp_path / "checkpoints" / "final.pt").is_file()

        def stop(step, record):
            raise KeyboardInterrupt

        with pytest.raises(runs.TrainingInterrupted):
            train_dasr(micro(max_iters=2, batch_size=2), tmp_path, resume=False, quiet=True, device="cpu",
                       callback=stop)
        assert not (tmp_path / "checkpoints" / "final.pt").exists()
        assert torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)["config"]["batch_size"] == 2

    def test_resume_refuses_another_kind(self, tmp_path):
        runs.save_checkpoint(tmp_path / "checkpoints" / "last.pt", {"kind": "usrdu-srn", "step": 1})
        with pytest.raises(CheckpointError, match="'usrdu-srn' checkpoint, not 'srlib.dasr'.*start again"):
            train_dasr(micro(), tmp_path, quiet=True, device="cpu")

    def test_checkpoints_load_weights_only(self, tmp_path):
        cfg = micro()
        train_dasr(cfg, tmp_path, quiet=True, device="cpu")
        last = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
        final = torch.load(tmp_path / "checkpoints" / "final.pt", weights_only=True)
        assert last["kind"] == final["kind"] == "srlib.dasr" and last["format"] == runs.CHECKPOINT_FORMAT
        assert {"model", "optimizer", "sampler", "rng"} <= set(last) and last["step"] == cfg.total_iters
        assert not {"optimizer", "sampler", "rng"} & set(final)  # weights-only snapshot
        assert final["config"] == last["config"] and final["step"] == cfg.total_iters

    def test_old_run_folder_resumes(self, tmp_path):
        """A last.pt written before srlib 0.2 (no "format", NumPy's RNG state as an ndarray) still resumes exactly."""
        cfg = micro()
        straight = weights(train_dasr(cfg, tmp_path / "a", quiet=True, device="cpu"))
        train_dasr(replace(cfg, max_iters=3), tmp_path / "b", quiet=True, device="cpu")
        last = tmp_path / "b" / "checkpoints" / "last.pt"
        state = torch.load(last, weights_only=True)
        del state["format"]
        np_state = state["rng"]["numpy"]
        state["rng"]["numpy"] = (np_state["name"], np_state["keys"].numpy().astype(np.uint32), np_state["pos"],
                                 np_state["has_gauss"], np_state["cached_gaussian"])
        torch.save(state, last)
        resumed = weights(train_dasr(cfg, tmp_path / "b", quiet=True, device="cpu"))
        assert all(torch.equal(straight[k], resumed[k]) for k in straight)

    def test_load_trained_errors(self, tmp_path):
        with pytest.raises(CheckpointError, match="no DASR checkpoint"):
            load_trained(tmp_path / "missing.pt")
        with pytest.raises(CheckpointError, match="not an srlib DASR checkpoint"):
            model_from_checkpoint({"kind": "usrdu-srn"})
        cfg = micro(max_iters=1)
        train_dasr(cfg, tmp_path, quiet=True, device="cpu")
        state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
        state["config"]["model"]["n_feats"] = 16  # weights of an 8-wide net under a 16-wide config
        with pytest.raises(CheckpointError, match="wrong shape|shape"):
            model_from_checkpoint(state)

    def test_cli(self, tmp_path, capsys):
        assert cli_main(["--profile", "tiny", "--scale", "2", "--iters", "2", "--out", str(tmp_path)]) == 0
        assert (tmp_path / "checkpoints" / "last.pt").is_file()
        assert str(tmp_path / "checkpoints" / "final.pt") in capsys.readouterr().out
        saved = json.loads((tmp_path / "config.json").read_text())["config"]
        assert saved["seed"] == DASRTrainConfig.seed and saved["max_iters"] == 2
        for bad in (["--profile", "huge"], ["--profile", "official"], ["--ablation", "model9"], ["--scale", "8"],
                    ["--setting", "real"]):
            with pytest.raises(SystemExit):
                cli_main([*bad, "--out", str(tmp_path)])

    def test_cli_interrupted_returns_130(self, tmp_path, monkeypatch, capsys):
        def interrupted(cfg, out, **kw):
            raise runs.TrainingInterrupted(7, runs.RunDir(out).last)

        monkeypatch.setattr(dasr_train, "train_dasr", interrupted)
        assert cli_main(["--iters", "9", "--out", str(tmp_path)]) == 130
        err = capsys.readouterr().err
        assert "after step 7" in err and "last.pt" in err and "again to resume" in err
