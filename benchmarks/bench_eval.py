"""DASR Table 2's bicubic row at scale: every benchmark set found, x2/x3/x4, the paper's four kernel widths each.

    python benchmarks/bench_eval.py [--threads 2]

Needs ``$SRLIB_DATA`` (Set5 and Set14 at least; B100 and Urban100 after ``make data``). Images are read one at a
time (:class:`srlib.evaluate.ImageFiles`), as ``srlib evaluate`` does; each (set, scale) row runs in a worker process
with one torch thread. Prints the wall time of the whole row, the CPU time per row, the cost per HR megapixel, and
our cells beside the paper's (they differ on the blurred columns; chapter 1 explains why).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from srlib.degradations.presets import DegradationSpec  # noqa: E402
from srlib.errors import DataNotFound  # noqa: E402
from srlib.evaluate import ImageFiles, bicubic_upscaler, evaluate_images, hr_files  # noqa: E402
from srlib.published import DASR_TABLE2  # noqa: E402

SETS = ("Set5", "Set14", "B100", "Urban100")


def _cell_row(job: tuple) -> tuple:
    """One (set, scale) row of bicubic cells, in a worker process with one torch thread."""
    name, files, scale = job
    torch.set_num_threads(1)
    t0, c0 = time.perf_counter(), time.process_time()
    ours = [evaluate_images(bicubic_upscaler(scale), ImageFiles(files), scale, DegradationSpec(scale, sigma=w),
                            with_ssim=False)["psnr"] for w in DASR_TABLE2[scale]["widths"]]
    return name, scale, ours, time.perf_counter() - t0, time.process_time() - c0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (one torch thread each)")
    args, _ = ap.parse_known_args()
    data = os.environ.get("SRLIB_DATA")
    if not data:
        print("bench_eval: SRLIB_DATA is not set; skipped")
        return 0
    found = {}
    for name in SETS:
        try:
            found[name] = hr_files(data, name)
        except DataNotFound:
            pass
    print(f"sets: {', '.join(f'{k} ({len(v)})' for k, v in found.items())}; missing: "
          f"{', '.join(s for s in SETS if s not in found) or 'none'}; {args.workers} worker(s); "
          f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    jobs = [(name, files, scale) for name, files in found.items() for scale in (2, 3, 4)]
    jobs.sort(key=lambda j: -len(j[1]))  # big sets first: the workers finish together
    wall0 = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        results = {(n, sc): (ours, w, c) for n, sc, ours, w, c in pool.imap_unordered(_cell_row, jobs)}
    wall = time.perf_counter() - wall0
    print(f"{'set':9s} {'scale':>5s}  {'ours (Y PSNR, dB)':32s} {'paper':32s} {'CPU s':>6s}")
    cpu = 0.0
    for name in found:
        for scale in (2, 3, 4):
            ours, _, c = results[name, scale]
            cpu += c
            paper = DASR_TABLE2[scale]["rows"]["Bicubic"].get(name)
            print(f"{name:9s} {'x' + str(scale):>5s}  {' '.join(f'{v:7.2f}' for v in ours):32s} "
                  f"{' '.join(f'{v:7.2f}' for v in paper) if paper else '':32s} {c:6.1f}")
    megapixels = sum(Image.open(p).width * Image.open(p).height for fs in found.values() for p in fs) / 1e6
    print(f"bicubic Table 2 row, {len(found)} set(s) ({megapixels:.1f} HR megapixels) x 3 scales x 4 widths: wall "
          f"{wall:.1f} s with {args.workers} worker(s), CPU {cpu:.1f} s in the workers "
          f"({cpu / (12 * megapixels):.2f} CPU s per HR megapixel and cell)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
