"""Tiled inference (srlib.inference): whole-image vs tiled rate, and a 4000x3000 photograph at x4 into a file.

Usage::

    python benchmarks/bench_tiling.py [--quick] [--big 4000x3000] [--tile 256] [--overlap 16] [--profile tiny]
                                      [--threads N] [--device cpu|cuda]

Rows (DASR ``BlindSR(DASRConfig.for_profile(profile, scale=4))``, random weights: speed does not depend on them):

* ``whole``: :func:`srlib.inference.upscale` on a medium LR image in one piece. The side, 496 = 2 x 256 - 16, is
  covered by exactly two tiles per axis, so the comparison measures tiling, not a badly fitting last tile
  (``--quick``: 240 with 128-px tiles).
* ``tiled``: the same image tile by tile. ``overhead`` = tiled time / whole time - 1; ``area`` = LR pixels the tiles
  process / pixels in the image (the overlaps and the last tile of each row and column are computed twice).
  Both rows are repeated with one torch thread: on a busy machine every parallel region waits for a descheduled
  thread, and the tiled run has four times as many (smaller) ones, which shows up as tiling overhead.
* ``file``: :func:`srlib.inference.upscale_file` from a PNG to a PNG (banded, streamed) in a child process, so that
  its peak resident set size (``ru_maxrss``) is its own. ``rss before`` is the child after imports, model and nothing
  else; the input is a built-in photograph resized to ``--big`` with PIL.

Rates are seconds per output megapixel. The machine's load average is printed before and after, and the child's CPU
time beside its wall time, so a busy machine shows.

Recorded 2026-11-27 on a shared 2-core development VM (torch 2.15, CPU; load average 5.3 before, 4.6 after, from
other jobs), tiny profile, tile 256, overlap 16:

==========================================  =========  ===========  ===========================================
row                                         wall       s/MP (wall)  notes
==========================================  =========  ===========  ===========================================
whole 496² -> 1984², 2 threads              7.8 s      1.98         CPU 1.30 s/MP
tiled 496², 2 threads                       9.3 s      2.35         CPU 1.72 s/MP (+19 % wall, +32 % CPU)
whole 496², 1 thread                        3.0 s      0.76         CPU 0.75 s/MP
tiled 496², 1 thread                        3.1 s      0.78         CPU 0.76 s/MP (+2 %; tile area x1.07)
file 4000x3000 -> 16000x12000 PNG, 2 thr.   447 s      2.33         CPU 415 s; peak RSS 1393 MiB (636 before)
==========================================  =========  ===========  ===========================================

An earlier run of the same code at load 0.3 -> 6 took 581 s with a peak RSS of 1624 MiB (RSS varies with the
allocator); the same code without row slicing (whole bands handed on at once) peaked at 1811 MiB.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from srlib.dasr.config import DASRConfig  # noqa: E402
from srlib.dasr.network import BlindSR  # noqa: E402
from srlib.inference import _tile_starts, upscale  # noqa: E402

SCALE = 4


def make_model(profile: str, device: str) -> BlindSR:
    torch.manual_seed(0)
    return BlindSR(DASRConfig.for_profile(profile, scale=SCALE)).to(device).eval()


def median_time(fn, repeat: int) -> tuple[float, float]:
    """Median wall and CPU seconds (CPU time is what a busy machine disturbs least)."""
    fn()  # warm-up (allocator, oneDNN primitives)
    walls, cpus = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return sorted(walls)[len(walls) // 2], sorted(cpus)[len(cpus) // 2]


def child(args) -> int:
    """Run one upscale_file and print a JSON line with time, CPU time and memory."""
    from srlib.inference import Upscaler, upscale_file

    if args.threads:
        torch.set_num_threads(args.threads)
    up = Upscaler(make_model(args.profile, args.device), SCALE, tile=args.tile, overlap=args.overlap)
    rss_before = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    cpu0, t0 = time.process_time(), time.perf_counter()
    written = upscale_file(up, args.child[0], args.child[1], progress=True)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"wall": wall, "cpu": cpu, "peak_mib": peak, "rss_before_mib": rss_before,
                      "out": [written.width, written.height], "bytes": Path(written.path).stat().st_size}))
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small images (medium 240, big 1000x750), tile 128")
    p.add_argument("--big", default=None, help="LR size WxH of the file row (default 4000x3000)")
    p.add_argument("--tile", type=int, default=None, help="tile side in LR pixels (default 256, --quick 128)")
    p.add_argument("--overlap", type=int, default=16)
    p.add_argument("--profile", default="tiny", choices=("tiny", "paper"))
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-file", action="store_true", help="skip the file row (the long one)")
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.tile = args.tile or (128 if args.quick else 256)
    if args.child:
        return child(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    big_w, big_h = map(int, (args.big or ("1000x750" if args.quick else "4000x3000")).split("x"))
    side = 2 * args.tile - args.overlap
    print(f"torch {torch.__version__}, {os.cpu_count()} logical cores, torch threads {torch.get_num_threads()}, "
          f"device {args.device}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"model: DASR {args.profile} x{SCALE} (random weights); tile {args.tile}, overlap {args.overlap}")

    model = make_model(args.profile, args.device)
    lr = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(0))
    mp = (SCALE * side) ** 2 / 1e6
    area = len(_tile_starts(side, args.tile, args.overlap)) ** 2 * args.tile ** 2 / side ** 2
    rows, threads = [], torch.get_num_threads()
    for n in sorted({threads, 1}, reverse=True) if args.device == "cpu" else [threads]:
        torch.set_num_threads(n)
        whole, whole_cpu = median_time(lambda: upscale(model, lr), args.repeat)
        tiled, tiled_cpu = median_time(lambda: upscale(model, lr, tile=args.tile, overlap=args.overlap), args.repeat)
        rows += [(f"whole {side}x{side} -> {SCALE * side}x{SCALE * side}, {n} thread(s)", whole, whole / mp,
                  f"CPU {whole_cpu:.2f} s = {whole_cpu / mp:.3f} s/MP"),
                 (f"tiled {side}x{side} (tile {args.tile}), {n} thread(s)", tiled, tiled / mp,
                  f"CPU {tiled_cpu:.2f} s = {tiled_cpu / mp:.3f} s/MP; overhead wall {100 * (tiled / whole - 1):+.0f}%,"
                  f" CPU {100 * (tiled_cpu / whole_cpu - 1):+.0f}%; tile area x{area:.2f}")]
    torch.set_num_threads(threads)
    if args.no_file:
        return report(rows)

    from PIL import Image

    from srlib.data import builtin_path

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.png", Path(tmp) / "out.png"
        with Image.open(builtin_path("astronaut")) as im:
            im.convert("RGB").resize((big_w, big_h), Image.BICUBIC).save(src)
        cmd = [sys.executable, __file__, "--child", str(src), str(dst), "--tile", str(args.tile), "--overlap",
               str(args.overlap), "--profile", args.profile, "--device", args.device]
        cmd += ["--threads", str(args.threads)] if args.threads else []
        res = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        if res.returncode:
            print(res.stdout)
            return res.returncode
        r = json.loads(res.stdout.strip().splitlines()[-1])
    out_mp = r["out"][0] * r["out"][1] / 1e6
    what = f"{threads} thread(s)"
    rows.append((f"file {big_w}x{big_h} -> {r['out'][0]}x{r['out'][1]} PNG (tile {args.tile}), {what}", r["wall"],
                 r["wall"] / out_mp, f"CPU {r['cpu']:.0f} s = {r['cpu'] / out_mp:.3f} s/MP, "
                 f"peak RSS {r['peak_mib']:.0f} MiB "
                 f"(before: {r['rss_before_mib']:.0f}), file {r['bytes'] / 2**20:.0f} MiB"))
    return report(rows)


def report(rows) -> int:
    width = max(len(row[0]) for row in rows)
    print(f"\n{'benchmark':<{width}}  {'time':>9}  {'s/MP out':>8}  notes")
    for name, t, rate, note in rows:
        print(f"{name:<{width}}  {t:8.2f}s  {rate:8.3f}  {note}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
