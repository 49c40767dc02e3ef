"""DASR Table 2's bicubic row at scale: every benchmark set found, x2/x3/x4, the paper's four kernel widths each.

    python benchmarks/bench_eval.py [--threads 2]

Needs ``$SRLIB_DATA`` (Set5 and Set14 at least; B100 and Urban100 after ``make data``). Images are read one at a
time (:class:`srlib.evaluate.ImageFiles`), as ``srlib evaluate`` does. Prints the wall and CPU time of the whole row,
per set, the peak RSS, and our cells beside the paper's (they differ on the blurred columns; chapter 1 explains why).
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from srlib.degradations.presets import DegradationSpec  # noqa: E402
from srlib.errors import DataNotFound  # noqa: E402
from srlib.evaluate import ImageFiles, bicubic_upscaler, evaluate_images, hr_files  # noqa: E402
from srlib.published import DASR_TABLE2  # noqa: E402

SETS = ("Set5", "Set14", "B100", "Urban100")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    args, _ = ap.parse_known_args()
    data = os.environ.get("SRLIB_DATA")
    if not data:
        print("bench_eval: SRLIB_DATA is not set; skipped")
        return 0
    torch.set_num_threads(args.threads)
    found = {}
    for name in SETS:
        try:
            found[name] = ImageFiles(hr_files(data, name))
        except DataNotFound:
            pass
    print(f"sets: {', '.join(f'{k} ({len(v)})' for k, v in found.items())}; missing: "
          f"{', '.join(s for s in SETS if s not in found) or 'none'}; threads {args.threads}; "
          f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    wall0, cpu0 = time.perf_counter(), time.process_time()
    print(f"{'set':9s} {'scale':>5s}  {'ours (Y PSNR, dB)':32s} {'paper':32s} {'s':>6s}")
    for name, files in found.items():
        for scale in (2, 3, 4):
            t0 = time.perf_counter()
            widths = DASR_TABLE2[scale]["widths"]
            ours = [evaluate_images(bicubic_upscaler(scale), files, scale, DegradationSpec(scale, sigma=w),
                                    with_ssim=False)["psnr"] for w in widths]
            paper = DASR_TABLE2[scale]["rows"]["Bicubic"].get(name)
            print(f"{name:9s} {'x' + str(scale):>5s}  {' '.join(f'{v:7.2f}' for v in ours):32s} "
                  f"{' '.join(f'{v:7.2f}' for v in paper) if paper else '':32s} {time.perf_counter() - t0:6.1f}")
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"bicubic Table 2 row, {len(found)} set(s) x 3 scales x 4 widths: wall {wall:.1f} s, CPU {cpu:.1f} s, "
          f"peak RSS {rss:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
