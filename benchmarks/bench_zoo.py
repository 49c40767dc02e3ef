"""The zoo's ``small`` checkpoints against their targets (issue 14), and the tool that writes their manifest.

    python benchmarks/bench_zoo.py                  # score every shipped checkpoint on Set5/Set14, check the targets
    python benchmarks/bench_zoo.py --install RUNS   # copy RUNS/<run>/checkpoints/final.pt into srlib/weights/ and
                                                    # (re)write srlib/weights/manifest.json with provenance + metrics

Needs ``$SRLIB_DATA`` (Set5, Set14 and train/SunHays80). Every number comes from
:func:`srlib.zoo_eval.evaluate_entry`, the function ``tests/test_zoo_manifest.py`` re-runs in CI.

Targets (issue 14): DASR small x4 at least +1.0 dB Y PSNR over bicubic at every sigma in {0, 1.2, 2.4, 3.6} on Set5
and Set14; the small DSN's y_g at least +0.5 dB closer (LR-domain PSNR) to the stand-in camera's LR than bicubic; the
PSNR-oriented initialisation at least +0.5 dB RGB PSNR over bicubic on the stand-in Track 1; the SRN is reported by
NIQE (and LPIPS where the AlexNet weights exist), with no PSNR target.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from srlib import zoo  # noqa: E402
from srlib.zoo_eval import SETS, evaluate_entry  # noqa: E402

#: name -> (run folder under --install, the command that trained it (run from the repository root with
#: SRLIB_DATA naming a folder that holds train/SunHays80 and OMP_NUM_THREADS=1), purpose, minimum gain in dB or None)
RUNS = {
    "dasr-small-x4-model4": (
        "dasr_x4_model4_14k", "srlib train dasr --profile small --ablation model4 --scale 4 --sr-iters 14000 "
        "--out runs/zoo/dasr_x4_model4_14k",
        "DASR x4 isotropic (Model 4, full DASR): the book's pretrained DASR, Table 2-style results and Fig. 3/4", 1.0),
    "dasr-small-x4-model1": (
        "dasr_x4_model1_14k", "srlib train dasr --profile small --ablation model1 --scale 4 --sr-iters 14000 "
        "--out runs/zoo/dasr_x4_model1_14k",
        "DASR x4 isotropic without the contrastive loss (Table 1 Model 1): the key contrast with Model 4", 1.0),
    "usrdu-small-dsn": (
        "usrdu_dsn", "srlib train usrdu-dsn --profile small --situation 5 --out runs/zoo/usrdu_dsn",
        "USR-DU downsampling network (situation 5: theta and sigma heads) for the stand-in Track 1 camera", 0.5),
    "usrdu-small-psnr-init": (
        "usrdu_psnr_init_9k", "srlib train usrdu-srn --profile small --situation 5 --pixel-only "
        "--dsn-checkpoint srlib/weights/usrdu-small-dsn.pt --out runs/zoo/usrdu_psnr_init_9k",
        "PSNR-oriented RRDBNet (L1 on the small DSN's LR samples): the initialisation of the USR-DU SRN", 0.5),
    "usrdu-small-srn-s5": (
        "usrdu_srn_s5_v2", "srlib train usrdu-srn --profile small --situation 5 --dsn-checkpoint "
        "srlib/weights/usrdu-small-dsn.pt --init-checkpoint srlib/weights/usrdu-small-psnr-init.pt "
        "--out runs/zoo/usrdu_srn_s5_v2",
        "USR-DU SR network, situation 5 (theta sampling, gradient-domain GAN), started from the PSNR init", None),
}


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _data_checksums() -> dict:
    """What the small profiles train on: the built-in photographs by sha256, SunHays80 by its git blob list."""
    from srlib.data.builtin import builtin_names, builtin_path

    blobs = ROOT / "srlib" / "assets" / "SunHays80.gitblobs"
    return {"builtin": {n: _sha256(builtin_path(n)) for n in builtin_names("train")},
            "SunHays80": f"80 files, git blob ids in srlib/assets/SunHays80.gitblobs (sha256 {_sha256(blobs)})"}


def _time_log(log: Path) -> dict:
    """Wall time and peak RSS from a ``/usr/bin/time -v`` log next to the run folder, if there is one."""
    if not log.is_file():
        return {}
    text = log.read_text(errors="replace")
    out = {}
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
    if m:
        secs = 0.0
        for part in m.group(1).split(":"):
            secs = secs * 60 + float(part)
        out["wall_time_s"] = round(secs)
    m = re.search(r"User time \(seconds\): ([\d.]+)", text)
    if m:
        out["cpu_time_s"] = round(float(m.group(1)))
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if m:
        out["peak_rss_mib"] = round(int(m.group(1)) / 1024)
    return out


def install(runs: Path, names: list, machine: str) -> None:
    """Copy each run's final.pt into srlib/weights/ and write its manifest record (metrics measured here)."""
    # The commit whose code trained a run (its run folder may hold a `git_commit` file; else HEAD now).
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    data = json.loads(zoo.MANIFEST.read_text()) if zoo.MANIFEST.is_file() else {"format": 1, "entries": {}}
    for name in names:
        run_dir, command, purpose, _ = RUNS[name]
        src = runs / run_dir / "checkpoints" / "final.pt"
        dst = zoo.WEIGHTS_DIR / f"{name}.pt"
        shutil.copyfile(src, dst)
        cfg = json.loads((runs / run_dir / "config.json").read_text())["config"]
        marker = runs / run_dir / "git_commit"
        commit = marker.read_text().strip() if marker.is_file() else head
        from srlib.models import detect_kind
        from srlib.runs import load_checkpoint

        kind = detect_kind(load_checkpoint(dst, map_location="cpu"))
        scale = cfg["model"]["scale"] if "model" in cfg else 4
        rec = {"file": dst.name, "size": dst.stat().st_size, "sha256": _sha256(dst), "kind": kind, "scale": scale,
               "purpose": purpose, "license": "MIT (srlib)", "command": command, "seed": cfg["seed"],
               "data": cfg["data"], "data_checksums": _data_checksums(), "git_commit": commit,
               "machine": machine, "config": cfg, **_time_log(runs / f"{run_dir}.log")}
        data["entries"][name] = rec
        zoo.MANIFEST.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        t0 = time.perf_counter()
        rec["metrics"] = evaluate_entry(name, path=dst)
        rec["eval_seconds"] = round(time.perf_counter() - t0, 1)
        zoo.MANIFEST.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        print(f"installed {name}: {rec['size'] / 1e6:.2f} MB, sha256 {rec['sha256'][:12]}...", flush=True)


def _gains(metrics: dict) -> list:
    """(set, column, gain) of a metrics dict."""
    out = []
    for dataset, m in metrics.items():
        if "gain" in m:
            out.append((dataset, "", m["gain"]))
        else:
            out += [(dataset, col, v["gain"]) for col, v in m.items()]
    return out


def report() -> int:
    """Score every shipped checkpoint now and check it against its target; 1 if a target is missed."""
    missed = []
    for name, rec in zoo.manifest_records().items():
        t0 = time.perf_counter()
        metrics = evaluate_entry(name)
        target = RUNS.get(name, (None, None, None, None))[3]
        print(f"\n{name}  ({time.perf_counter() - t0:.0f} s; target: "
              f"{'+%.1f dB over bicubic' % target if target is not None else 'none (NIQE reported)'})")
        print(json.dumps(metrics, indent=1))
        if target is not None:
            low = [(d, c, g) for d, c, g in _gains(metrics) if g < target]
            missed += [f"{name} {d} {c}: {g:+.2f} dB" for d, c, g in low]
    print("\ntargets:", "all met" if not missed else "MISSED " + "; ".join(missed))
    return 1 if missed else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--install", type=Path, help="folder of finished runs to install into srlib/weights/")
    p.add_argument("--only", nargs="*", default=list(RUNS), choices=list(RUNS))
    p.add_argument("--machine", default=f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    args = p.parse_args()
    if not os.environ.get("SRLIB_DATA"):
        print("bench_zoo: set SRLIB_DATA to a folder with benchmark/Set5, benchmark/Set14 (skipped)")
        return 0
    if args.install:
        install(args.install, args.only, args.machine)
        return 0
    print(f"scoring the shipped checkpoints on {', '.join(SETS)}")
    return report()


if __name__ == "__main__":
    sys.exit(main())
