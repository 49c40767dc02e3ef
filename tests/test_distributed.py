"""Data-parallel training (srlib.distributed): 2 gloo processes on the CPU, started by the real torchrun.

What is checked, for the three trainers:
* after several steps the weights (DASR: also the key encoder, the queue and its pointer) are bit-identical on the
  two ranks, and the queue has grown by the global batch each step;
* on the same global batch (``data="slice"``), a 2-rank run logs the losses of a 1-rank run and ends with its weights
  up to float rounding, where the network has no BatchNorm (DASR's oracle Model 5, the DSN, the SRN). DASR's encoder
  has BatchNorm, whose batch statistics are per rank: there the losses differ (measured below);
* a 2-rank run killed with SIGKILL resumes from ``last.pt`` and ends bit-identical to an uninterrupted 2-rank run;
* a 2-rank checkpoint resumes in one process and a one-process checkpoint under 2 ranks.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import ddp_jobs
from srlib import distributed
from srlib.accel import Speed
from srlib.errors import UsageError
from srlib.runs import RunDir, load_checkpoint

TESTS = Path(__file__).resolve().parent
NCCL_OFF = {"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def torchrun(jobs: list, tmp: Path, nproc: int = 2, *, wait: bool = True):
    """Run ``jobs`` (see tests/ddp_jobs.py) under ``torchrun --nproc_per_node nproc``."""
    spec = tmp / f"spec{len(list(tmp.glob('spec*.json')))}.json"
    spec.write_text(json.dumps(jobs))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           str(TESTS / "ddp_jobs.py"), str(spec)]
    env = {**os.environ, **NCCL_OFF}
    env.pop("WORLD_SIZE", None)
    if not wait:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def ranks(out: Path, n: int = 2) -> list:
    return [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(n)]


def losses(out: Path, key: str = "loss") -> list:
    return [r[key] for r in RunDir(out).log.read() if key in r]


def identical(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def close(a: dict, b: dict, atol: float) -> float:
    """Largest absolute difference between two state dicts (same keys required)."""
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].is_floating_point())


@pytest.fixture(scope="module")
def runs2(tmp_path_factory):
    """One torchrun of 2 ranks with every job the tests below read, and the matching one-process runs."""
    tmp = tmp_path_factory.mktemp("ddp")
    jobs = [
        {"kind": "dasr", "out": str(tmp / "dasr_m4")},
        {"kind": "dasr", "out": str(tmp / "dasr_m4_shuffle"), "shuffle_bn": True},
        {"kind": "dasr", "out": str(tmp / "dasr_m5_slice"), "data": "slice", "cfg": {"ablation": "model5"}},
        {"kind": "dasr", "out": str(tmp / "dasr_m4_slice"), "data": "slice"},
        {"kind": "dasr", "out": str(tmp / "dasr_part"), "cfg": {"max_iters": 4}},
        {"kind": "dsn", "out": str(tmp / "dsn_slice"), "data": "slice"},
        {"kind": "srn", "out": str(tmp / "srn_slice"), "data": "slice",
         "dsn_checkpoint": str(tmp / "dsn_slice" / "checkpoints" / "final.pt")},
    ]
    torchrun(jobs, tmp)
    one = {}
    for job in jobs[2:4] + jobs[5:]:  # the same jobs in this (one-process) pytest process
        single = dict(job, out=job["out"] + "_1")
        one[Path(job["out"]).name] = {k: v.detach().clone() for k, v in ddp_jobs.run_job(single).state_dict().items()}
    return tmp, one


class TestRanksAgree:
    def test_dasr_weights_queue_and_key_encoder_identical(self, runs2):
        tmp, _ = runs2
        for name in ("dasr_m4", "dasr_m4_shuffle"):
            r0, r1 = ranks(tmp / name)
            params = {k: v for k, v in r0.items() if "running_" not in k and "num_batches" not in k}
            assert identical(params, {k: r1[k] for k in params}), name
            assert any(k.startswith("E.encoder_k.") for k in params) and "E.queue" in params
            cfg = ddp_jobs.dasr_cfg()
            # 6 MoCo steps (3 encoder-only, 3 joint), each enqueueing the global batch of 4 keys: 24 mod 16
            assert int(r0["E.queue_ptr"]) == (cfg.total_iters * cfg.batch_size) % cfg.model.queue_size == 8

    def test_usrdu_weights_identical(self, runs2):
        tmp, _ = runs2
        for name in ("dsn_slice", "srn_slice"):
            r0, r1 = ranks(tmp / name)
            assert identical(r0, r1), name

    def test_only_rank0_writes_and_config_records_the_world(self, runs2):
        tmp, _ = runs2
        run = tmp / "dasr_m4"
        cfg = json.loads((run / "config.json").read_text())
        assert cfg["world_size"] == 2 and cfg["data"] == "rank"
        assert [r["step"] for r in RunDir(run).log.read()] == list(range(1, 7))  # one line per step, not two
        last = load_checkpoint(RunDir(run).last)
        assert last["world_size"] == 2 and len(last["other_ranks"]) == 1
        # each rank drew its own data: the two ranks' sampler streams differ
        assert not torch.equal(last["sampler"]["generator"], last["other_ranks"][0]["sampler"]["generator"])

    def test_shuffle_bn_changes_the_keys(self, runs2):
        tmp, _ = runs2
        a, b = (ranks(tmp / n)[0] for n in ("dasr_m4", "dasr_m4_shuffle"))
        assert not torch.equal(a["E.queue"], b["E.queue"])  # same data and weights at start, keys differ


class TestSameGlobalBatch:
    @pytest.mark.parametrize("name,atol", [("dasr_m5_slice", 1e-5), ("dsn_slice", 1e-5), ("srn_slice", 1e-5)])
    def test_two_ranks_match_one_rank_without_batchnorm(self, runs2, name, atol):
        tmp, one = runs2
        two, single = losses(tmp / name), losses(tmp / (name + "_1"))
        assert len(two) == len(single) > 0
        assert two == pytest.approx(single, rel=1e-5, abs=1e-6)
        assert close(ranks(tmp / name)[0], one[name], atol) < atol

    def test_batchnorm_makes_dasr_differ(self, runs2):
        """DASR's encoder normalises with per-rank batch statistics: the first contrastive loss already differs."""
        tmp, _ = runs2
        two, single = losses(tmp / "dasr_m4_slice", "contrastive"), losses(tmp / "dasr_m4_slice_1", "contrastive")
        assert abs(two[0] - single[0]) > 1e-4


class TestResume:
    def test_killed_two_rank_run_resumes_bit_identical(self, runs2):
        tmp, _ = runs2
        out = tmp / "killed"
        job = {"kind": "dasr", "out": str(out), "slow_after": 2}
        proc = torchrun([job], tmp, wait=False)
        last = RunDir(out).last
        deadline = time.time() + 240
        while not (last.is_file() and load_checkpoint(last)["step"] >= 2):
            assert proc.poll() is None and time.time() < deadline, proc.stdout.read().decode()[-3000:]
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)  # torchrun and both ranks, no chance to save
        proc.wait()
        step = load_checkpoint(last)["step"]
        assert 2 <= step < 6 and not RunDir(out).final.exists()
        torchrun([{"kind": "dasr", "out": str(out)}], tmp)  # the same command again
        ref = tmp / "dasr_m4"  # the uninterrupted run
        assert identical(ranks(out)[0], ranks(ref)[0])  # every weight, buffer and BN statistic of the saved rank
        # rank 1's weights too; its BN running statistics are transient (DDP copies rank 0's into every forward pass,
        # and only rank 0's are saved)
        assert identical(*({k: v for k, v in r.items() if "running_" not in k} for r in (ranks(out)[1], ranks(ref)[1])))
        assert identical(load_checkpoint(RunDir(out).last)["optimizer"]["state"][0],
                         load_checkpoint(RunDir(ref).last)["optimizer"]["state"][0])
        assert [r["step"] for r in RunDir(out).log.read()] == list(range(1, 7))

    def test_two_ranks_to_one_and_back(self, runs2, capsys):
        tmp, _ = runs2
        part = tmp / "dasr_part"
        assert load_checkpoint(RunDir(part).last)["step"] == 4
        net = ddp_jobs.run_job({"kind": "dasr", "out": str(part)})  # one process continues the 2-rank run
        assert "written by 2 process(es) and is resumed by 1" in capsys.readouterr().err
        assert load_checkpoint(RunDir(part).final)["step"] == 6 and not net.training
        assert [r["step"] for r in RunDir(part).log.read()] == list(range(1, 7))
        # and a one-process checkpoint continued by 2 ranks
        solo = tmp / "solo"
        ddp_jobs.run_job({"kind": "dasr", "out": str(solo), "cfg": {"max_iters": 4}})
        proc = torchrun([{"kind": "dasr", "out": str(solo)}], tmp)
        assert "written by 1 process(es) and is resumed by 2" in proc.stdout + proc.stderr
        r0, r1 = ranks(solo)
        assert all(torch.equal(r0[k], r1[k]) for k in r0 if "running_" not in k)
        assert load_checkpoint(RunDir(solo).last)["world_size"] == 2


class TestCommandLine:
    def test_torchrun_srlib_train_dasr(self, tmp_path):
        """The documented command: torchrun --nproc_per_node 2 -m srlib train dasr --profile tiny ..."""
        out = tmp_path / "run"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "srlib",
               "train", "dasr", "--profile", "tiny", "--iters", "6", "--device", "cpu", "--out", str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                              env={**os.environ, **NCCL_OFF})
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert proc.stdout.count("done: ") == 1  # rank 0 speaks
        cfg = json.loads((out / "config.json").read_text())
        assert cfg["world_size"] == 2 and cfg["speed"] == {"amp": None, "channels_last": False, "compile": False}
        assert load_checkpoint(RunDir(out).final)["step"] == 6

    def test_batch_that_does_not_divide_is_one_line(self, tmp_path):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "srlib",
               "train", "usrdu-dsn", "--profile", "tiny", "--iters", "2", "--device", "cpu", "--out", str(tmp_path)]
        # tiny DSN batch 4 divides by 2; 3 ranks do not divide it
        cmd[4] = "--nproc_per_node=3"
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, **NCCL_OFF})
        assert proc.returncode != 0  # each rank says why in srlib's one-line form (torchrun then adds its report)
        assert "srlib: error: batch_size 4 is the global batch and must divide among 3 processes" in proc.stderr


class TestPlumbing:
    def test_rank_seed(self):
        assert distributed.rank_seed(5, 0) == 5
        seeds = {distributed.rank_seed(5, r, s) for r in range(4) for s in (0, 10)}
        assert len(seeds) == 8 and all(0 <= s < 2**63 for s in seeds)

    def test_context_batches(self):
        ctx = distributed.Context(rank=1, world_size=2)
        assert ctx.local_batch(8) == 4 and ctx.seed(3) == distributed.rank_seed(3, 1)
        with pytest.raises(UsageError, match="global batch and must divide among 2 processes"):
            ctx.local_batch(7)
        sl = distributed.Context(rank=1, world_size=2, data="slice")
        assert sl.local_batch(8) == 8 and sl.seed(3) == 3
        assert sl.take(torch.arange(8)).tolist() == [4, 5, 6, 7]
        one = distributed.Context()
        assert one.local_batch(7) == 7 and one.mean({"loss": 1.5}) == {"loss": 1.5} and one.any(True)
        with pytest.raises(UsageError, match="data mode"):
            distributed.setup("cpu", data="shuffle")

    def test_amp_is_refused_where_it_does_not_run_in_one_line(self, tmp_path, monkeypatch):
        with pytest.raises(UsageError, match="fp16 runs on CUDA only"):
            Speed(amp="fp16").check(torch.device("cpu"))
        with pytest.raises(UsageError, match="--amp must be one of"):
            Speed(amp="fp8")
        import srlib.accel as accel

        monkeypatch.setattr(accel, "cpu_has_bf16", lambda: False)
        with pytest.raises(UsageError, match="native bf16 instructions"):
            Speed(amp="bf16").check(torch.device("cpu"))
        monkeypatch.setattr(accel, "cpu_has_bf16", lambda: True)
        assert Speed(amp="bf16").check(torch.device("cpu")).amp == "bf16"
        proc = subprocess.run([sys.executable, "-m", "srlib", "train", "dasr", "--profile", "tiny", "--amp", "fp16",
                               "--device", "cpu", "--out", str(tmp_path / "x")], capture_output=True, text=True)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert proc.stderr.strip().count("\n") == 0 and "CUDA only" in proc.stderr

    def test_channels_last_training_matches(self, tmp_path):
        """channels_last changes the memory layout, not the result (beyond float rounding)."""
        a = ddp_jobs.run_job({"kind": "dsn", "out": str(tmp_path / "a"), "cfg": {"iters": 2}})
        from srlib.usrdu.train_dsn import train_dsn

        b = train_dsn(ddp_jobs.dsn_cfg(iters=2), tmp_path / "b", quiet=True, device="cpu",
                      speed=Speed(channels_last=True))
        assert close(a.state_dict(), b.state_dict(), 1e-4) < 1e-4

    def test_amp_code_paths_run_and_resume(self, tmp_path, monkeypatch):
        """The autocast and loss-scaling code runs through every trainer (on the CPU, with the CUDA-only guard lifted):
        fp16 keeps one GradScaler per optimiser in last.pt and resumes from it."""
        monkeypatch.setattr(Speed, "check", lambda self, device: self)
        from srlib.dasr.train import train_dasr
        from srlib.usrdu.train_dsn import train_dsn
        from srlib.usrdu.train_srn import train_srn

        net = train_dasr(ddp_jobs.dasr_cfg(max_iters=4), tmp_path / "dasr", quiet=True, device="cpu",
                         speed=Speed(amp="bf16"))
        assert all(torch.isfinite(p).all() for p in net.parameters())
        cfg = ddp_jobs.dsn_cfg(iters=3)
        train_dsn(replace(cfg, max_iters=2), tmp_path / "dsn", quiet=True, device="cpu", speed=Speed(amp="fp16"))
        last = load_checkpoint(RunDir(tmp_path / "dsn").last)
        assert {"scaler_g", "scaler_d"} <= set(last) and last["scaler_g"]["scale"] > 0
        train_dsn(cfg, tmp_path / "dsn", quiet=True, device="cpu", speed=Speed(amp="fp16"))
        assert load_checkpoint(RunDir(tmp_path / "dsn").final)["step"] == 3
        srn = train_srn(ddp_jobs.srn_cfg(RunDir(tmp_path / "dsn").final, iters=2), tmp_path / "srn", quiet=True,
                        device="cpu", speed=Speed(amp="fp16", channels_last=True))
        assert all(torch.isfinite(p).all() for p in srn.parameters())
