"""Does DASR's degradation encoder separate blur on unseen content once it trains long enough? (issue 14)

At CPU scale (<= 2,000 stage-1 iterations) the 5-NN separation of kernel widths on unseen photographs stays at chance:
the encoder learns to recognise the photograph, not the blur. This script runs stage 1 (encoder only, L_degrad through
MoCo, paper Sec. 4.1) at **paper size** (encoder 64/128/256, queue 8192, m = 0.999, tau = 0.07, batch 32 x 2 patches
of 48 px, Adam lr 1e-3) for a fixed wall-clock budget on whatever device it gets, and records against iterations:

* the contrastive top-1 accuracy and loss (moving means over the last ``--log-every`` iterations);
* the separation score of :func:`srlib.dasr.analysis.separation_score` (5-NN, folds grouped by source photograph,
  chance 0.2) on two sets of unseen content: the built-in test photographs (chapter 2's protocol: 256 px crops,
  the five Table 1 kernel widths, x4) and Set14 when ``--set14`` points at its HR folder;
* a linear probe (logistic regression, same grouped folds) on the same representations.

It writes ``metrics.json`` (the curve, the resolved config, device, wall time) and ``encoder.pt`` (the query encoder's
state dict, weights only) to ``--out``. The loop below is the stage-1 branch of :func:`srlib.dasr.train.train_dasr`
written out, so that the script can stop on a wall-clock budget and evaluate the live model.

    python benchmarks/dasr_stage1_scale.py --data DIR_OF_PHOTOS --minutes 8 --out runs/stage1_scale [--device cuda]
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def linear_probe(X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> float:
    """Logistic-regression accuracy of the kernel class on unseen photographs (folds grouped by photograph)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1))
    n = len(np.unique(groups))
    return float(cross_val_score(clf, X, y, groups=groups, cv=GroupKFold(min(n, 5))).mean())


def evaluate(model, sets: dict, classes: list, scale: int, seed: int) -> dict:
    """Separation and probe accuracy of the current encoder on each set of unseen crops (on CPU, eval mode)."""
    from srlib.dasr.analysis import representations, separation_score

    cpu = copy.deepcopy(model).cpu().eval()
    out = {}
    for name, (hr, groups) in sets.items():
        X, y = representations(cpu, hr, classes, scale, seed=seed)
        g = np.tile(groups.numpy(), len(classes))
        out[name] = {"separation": separation_score(X, y, g)[0], "probe": linear_probe(X, y, g)}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="folder of HR training photographs (e.g. SunHays80)")
    p.add_argument("--set14", help="Set14 HR folder: a second, larger set of unseen content")
    p.add_argument("--minutes", type=float, default=8.0, help="wall-clock budget of the training loop")
    p.add_argument("--profile", default="paper", help="srlib profile for the sizes (paper or tiny)")
    p.add_argument("--batch", type=int, default=None, help="override the profile's batch size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.add_argument("--eval-at", default="0,250,500,1000,2000,4000,8000,12000,16000,24000,32000,48000,64000",
                   help="iterations at which to measure separation (and at the end)")
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--crops", type=int, default=12, help="held-out crops per photograph")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)

    from srlib.dasr.analysis import held_out_crops
    from srlib.dasr.moco import contrastive_accuracy
    from srlib.dasr.network import BlindSR
    from srlib.dasr.train import degradation_sampler, synthesize, training_images
    from srlib.dasr import train_config as tc
    from srlib.data import DASRPatchSampler, builtin_images
    from srlib.data.io import read_image
    from srlib.degradations import isotropic_gaussian
    from srlib.runs import pick_device, seed_everything

    make = getattr(tc.DASRTrainConfig, "for_profile", None) or tc.DASRTrainConfig.profile_config
    over = {"batch_size": a.batch} if a.batch else {}
    cfg = make(a.profile, setting="iso", scale=4, ablation="model4", seed=a.seed, data=a.data, **over)
    dev = pick_device(a.device)
    kernel_gen = seed_everything(cfg.seed)
    noise_gen = torch.Generator(dev).manual_seed(cfg.seed + 2)
    model = BlindSR(cfg.model).to(dev).train()
    opt = torch.optim.Adam([p for p in model.E.encoder_q.parameters() if p.requires_grad], lr=cfg.lr_encoder,
                           betas=tuple(cfg.betas))
    photos = training_images(cfg)
    sampler = DASRPatchSampler(photos, cfg.model.scale, cfg.patch_size, cfg.batch_size,
                               generator=torch.Generator().manual_seed(cfg.seed + 1))
    degradations = degradation_sampler(cfg)

    sigmas = (0.2, 1.0, 1.8, 2.6, 3.4)  # chapter 2: the five kernel widths of Table 1 at x4
    classes = [(isotropic_gaussian(s), 0.0) for s in sigmas]
    sets = {"builtin-test": held_out_crops(builtin_images("test"), 256, a.crops,
                                           torch.Generator().manual_seed(a.seed))}
    if a.set14:
        imgs = [(f.stem, read_image(f)) for f in sorted(Path(a.set14).iterdir()) if f.suffix.lower() == ".png"]
        imgs = [(n, x.expand(3, -1, -1) if x.shape[0] == 1 else x) for n, x in imgs]
        sets["Set14"] = held_out_crops(imgs, 192, a.crops, torch.Generator().manual_seed(a.seed))
    eval_at = sorted(int(v) for v in a.eval_at.split(","))

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    card = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    print(f"stage 1 at profile={cfg.profile}: encoder {cfg.model.enc_widths}, queue {cfg.model.queue_size}, "
          f"batch {cfg.batch_size} x 2 x {cfg.patch_size} px, {len(photos)} photos"
          f", device {card}, budget {a.minutes} min", flush=True)
    curve, evals, window = [], [], []
    budget, t0, step = a.minutes * 60, time.perf_counter(), 0
    train_time = 0.0

    def measure():
        t = time.perf_counter()
        res = evaluate(model, sets, classes, cfg.model.scale, a.seed)
        evals.append({"step": step, "train_seconds": round(train_time, 1), **res})
        print(f"  step {step:6d}  train {train_time:6.0f}s  " + "  ".join(
            f"{k}: sep {v['separation']:.3f} probe {v['probe']:.3f}" for k, v in res.items())
            + f"  (eval {time.perf_counter() - t:.1f}s)", flush=True)

    measure()
    tick = time.perf_counter()
    while train_time < budget:
        for group in opt.param_groups:
            group["lr"] = cfg.lr_at(step)
        hr = sampler.sample().to(dev)
        deg = degradations.sample(cfg.batch_size, kernel_gen)
        lr_pair = synthesize(hr, deg.kernels.to(dev), deg.noise.to(dev), cfg.model.scale, generator=noise_gen,
                             border=cfg.border)
        _, logits, labels = model.contrast(lr_pair[:, 0], lr_pair[:, 1])
        loss = F.cross_entropy(logits, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        window.append((loss.detach(), contrastive_accuracy(logits).detach()))
        if step % a.log_every == 0:
            ls, ac = (torch.stack(v).float().mean().item() for v in zip(*window))
            window.clear()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            train_time += time.perf_counter() - tick
            curve.append({"step": step, "loss": ls, "acc": ac, "train_seconds": round(train_time, 1)})
            if step % (a.log_every * 10) == 0:
                print(f"  step {step:6d}  loss {ls:.3f}  top-1 {ac:.3f}  ({step / train_time:.1f} it/s)", flush=True)
            if any(step - a.log_every < e <= step for e in eval_at):
                measure()
            tick = time.perf_counter()
    if not evals or evals[-1]["step"] != step:
        measure()
    torch.save(model.E.encoder_q.state_dict(), out / "encoder.pt")
    result = {"config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(cfg).items() if k != "model"},
              "model": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(cfg.model).items()},
              "device": card, "torch": torch.__version__, "iterations": step, "train_seconds": round(train_time, 1),
              "wall_seconds": round(time.perf_counter() - t0, 1), "chance": 1 / len(sigmas), "sigmas": sigmas,
              "curve": curve, "evals": evals}
    (out / "metrics.json").write_text(json.dumps(result, indent=1))
    print(f"done: {step} iterations in {train_time:.0f} s of training ({step / max(train_time, 1e-9):.1f} it/s); "
          f"wrote {out / 'metrics.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
