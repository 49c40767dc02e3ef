"""``srlib`` command-line interface (also ``python -m srlib``), with one error style for every sub-command.

Sub-commands::

    srlib [--debug] evaluate [--method bicubic|checkpoint] [--checkpoint C] --dataset Set5 [--data-dir DIR] --scale 4
                             [--kernel-width 1.2 | --aniso L1,L2,THETA_DEG | --preset table3:K] [--noise N]
                             [--tile N] [--json OUT] [--csv OUT] [--lpips] [--niqe]
    srlib [--debug] upscale --checkpoint C INPUT OUTPUT [--tile N] [--overlap O] [--device D] [--overwrite]
    srlib [--debug] train dasr|usrdu-dsn|usrdu-srn --profile tiny|paper --out DIR [...]
    srlib [--debug] data NAME [NAME ...] [--root data]
    srlib [--debug] weights list [--json] | get NAME [NAME ...]
    srlib [--debug] env

Expected failures (a bad file, argument, model kind or scale, missing data, no space left, permission denied) print
``srlib: error: <message>`` on stderr and exit with the code of their :mod:`srlib.errors` class (2 usage, 3 input,
4 checkpoint, 5 data, 6 output, 7 disk full, 130 interrupted); anything else is an internal error (exit 1). Tracebacks
only with ``--debug`` or ``SRLIB_DEBUG=1``. ``evaluate``'s flags are stable: chapters and tests call it.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from srlib.errors import InputError, OutputError, SrlibError, UsageError, explain_os_error

#: ``srlib train <stage>`` -> the module whose ``cli_main(argv)`` runs it.
TRAINERS = {"dasr": "srlib.dasr.train", "usrdu-dsn": "srlib.usrdu.train_dsn", "usrdu-srn": "srlib.usrdu.train_srn"}
DEBUG_HINT = "rerun with --debug for the traceback"


def _evaluate_parser(sub) -> None:
    from srlib.evaluate import METHODS, SCALES

    p = sub.add_parser("evaluate", help="PSNR/SSIM of bicubic or any SR checkpoint on a benchmark, one degradation")
    p.add_argument("--method", choices=METHODS, help="default: checkpoint when --checkpoint is given, else bicubic")
    p.add_argument("--checkpoint", help="any SR checkpoint (srlib DASR/USR-DU, official DASR, ESRGAN/BasicSR)")
    p.add_argument("--data-dir", help="folder holding benchmark/<dataset>/HR (or <dataset>/HR); default $SRLIB_DATA")
    p.add_argument("--dataset", default="Set5", help="Set5, Set14, B100, Urban100, ... or 'builtin'")
    p.add_argument("--scale", type=int, default=4, choices=SCALES)
    kern = p.add_mutually_exclusive_group()
    kern.add_argument("--kernel-width", type=float, default=0.0, help="isotropic Gaussian sigma (0 = no blur)")
    kern.add_argument("--aniso", help="anisotropic kernel 'lambda1,lambda2,theta_degrees' (lambdas are std devs)")
    kern.add_argument("--preset", help="a named test kernel, e.g. table3:1 .. table3:9 (DASR Table 3)")
    p.add_argument("--noise", type=float, default=0.0, help="Gaussian noise level on the 0-255 scale")
    p.add_argument("--seed", type=int, default=1, help="noise seed (image i uses seed + i)")
    p.add_argument("--border", default="symmetric", choices=("symmetric", "replicate"),
                   help="downsampler border: MATLAB 'symmetric' or the official DASR code's 'replicate'")
    p.add_argument("--rgb", action="store_true", help="score on RGB instead of Y (USR-DU protocol)")
    p.add_argument("--crop", type=int, default=None, help="border crop in pixels (default: the scale)")
    p.add_argument("--tile", type=int, default=None, help="tile side in LR pixels (default: whole image)")
    p.add_argument("--overlap", type=int, default=16, help="tile overlap in LR pixels")
    p.add_argument("--device", default=None)
    p.add_argument("--json", dest="json_out", help="write the whole result here as JSON")
    p.add_argument("--csv", dest="csv_out", help="write one row per image (name, psnr, ssim) here as CSV")
    p.add_argument("--lpips", action="store_true",
                   help="also LPIPS (needs the ImageNet AlexNet weights; otherwise reported as unavailable)")
    p.add_argument("--niqe", action="store_true", help="also NIQE of each SR image (MATLAB's recipe; about 1 s/image)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _upscale_parser(sub) -> None:
    p = sub.add_parser("upscale", help="super-resolve an image or a folder of images with any SR checkpoint",
                       description="Super-resolve INPUT (a file, or a folder: then OUTPUT is a folder) with any SR "
                       "checkpoint. Grey stays grey, alpha is upscaled bicubically, 16-bit grey PNGs stay 16-bit.")
    p.add_argument("--checkpoint", help="srlib DASR/USR-DU SRN run, official DASR model_600.pt, ESRGAN/BasicSR weights")
    p.add_argument("input", help="an image file, or a folder of images")
    p.add_argument("output", help="the output image (its extension picks the format), or a folder")
    p.add_argument("--tile", type=int, default=None, help="tile side in LR pixels (default: whole image)")
    p.add_argument("--overlap", type=int, default=16, help="tile overlap in LR pixels")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA when available)")
    p.add_argument("--overwrite", action="store_true", help="allow OUTPUT to be INPUT (single file only)")
    p.add_argument("--amp", choices=("bf16", "fp16"), default=None,
                   help="mixed precision: bf16 (CUDA, or a CPU with native bf16) or fp16 (CUDA); default fp32")
    p.add_argument("--compile", choices=("auto", "on", "off"), default="auto",
                   help="torch.compile the network: auto (default) when the inputs hold at least 5 M LR pixels, "
                        "where the faster network repays the compilation")


def _check_tiling(tile, overlap) -> None:
    if tile is not None and tile <= 0:
        raise UsageError(f"--tile must be a positive number of LR pixels, got {tile}")
    if overlap < 0 or (tile is not None and overlap >= tile):
        raise UsageError(f"--overlap must be >= 0 and smaller than --tile, got --overlap {overlap}"
                         + (f" with --tile {tile}" if tile is not None else ""))


def _degradation_from_args(args):
    from srlib.degradations.presets import TABLE3_KERNELS, DegradationSpec

    if args.aniso:
        try:
            l1, l2, theta = (float(v) for v in args.aniso.split(","))
        except ValueError:
            raise UsageError(f"--aniso expects 'lambda1,lambda2,theta_degrees', got {args.aniso!r}") from None
        return DegradationSpec(lambda1=l1, lambda2=l2, theta_deg=theta, noise=args.noise)
    if args.preset:
        name, _, idx = args.preset.partition(":")
        if name != "table3" or not idx.isdigit() or not 1 <= int(idx) <= len(TABLE3_KERNELS):
            raise UsageError(f"--preset expects table3:1 .. table3:{len(TABLE3_KERNELS)}, got {args.preset!r}")
        l1, l2, theta = TABLE3_KERNELS[int(idx) - 1]
        return DegradationSpec(lambda1=l1, lambda2=l2, theta_deg=theta, noise=args.noise)
    return DegradationSpec(sigma=args.kernel_width, noise=args.noise)


def _run_evaluate(args) -> int:
    from srlib.evaluate import evaluate

    _check_tiling(args.tile, args.overlap)
    deg = _degradation_from_args(args)
    result = evaluate(args.method, dataset=args.dataset, scale=args.scale, degradation=deg, data_dir=args.data_dir,
                      checkpoint=args.checkpoint, seed=args.seed, border=args.border, y_channel=not args.rgb,
                      crop=args.crop, device=args.device, tile=args.tile, overlap=args.overlap,
                      json_out=args.json_out, csv_out=args.csv_out, show_progress=not args.no_progress,
                      lpips=args.lpips, niqe=args.niqe)
    what = args.checkpoint or result["method"]
    print(f"{what} on {args.dataset} x{args.scale}, {deg.label}, {result['channel']}, crop {result['crop']}")
    width = max(len(r["name"]) for r in result["per_image"])

    def extra(r: dict) -> str:
        return (f"  LPIPS {r['lpips']:.4f}" if isinstance(r.get("lpips"), float) else "") + (
            f"  NIQE {r['niqe']:.3f}" if "niqe" in r else "")

    for r in result["per_image"]:
        print(f"  {r['name']:<{width}}  PSNR {r['psnr']:7.3f} dB  SSIM {r['ssim']:.4f}{extra(r)}")
    print(f"  {'mean':<{width}}  PSNR {result['psnr']:7.3f} dB  SSIM {result['ssim']:.4f}{extra(result)}")
    if isinstance(result.get("lpips"), str):
        print(f"  LPIPS {result['lpips']}")
    for out in (args.json_out, args.csv_out):
        if out:
            print(f"wrote {out}")
    return 0


def _upscale_jobs(args) -> list[tuple[Path, Path]]:
    """``(input, output)`` pairs of ``srlib upscale``, every output checked before any work."""
    from srlib.data.io import IMAGE_EXTS, check_output_path

    src, dst = Path(args.input), Path(args.output)
    if src.is_file():
        return [(src, check_output_path(dst, args.overwrite, [src]))]
    if not src.is_dir():
        raise InputError(f"no input file or folder at {src}")
    if dst.is_file():
        raise OutputError(f"INPUT {src} is a folder, so OUTPUT must be a folder too; {dst} is a file")
    inputs = sorted(p for p in src.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
    if not inputs:
        raise InputError(f"no image files ({' '.join(IMAGE_EXTS)}) in {src}")
    # Folder mode never writes over an input image, --overwrite or not.
    return [(p, check_output_path(dst / p.name, False, inputs)) for p in inputs]


def _report_written(w) -> None:
    print(f"wrote {w.path} ({w.width}x{w.height}, {w.channels} channel{'s' * (w.channels > 1)}, {w.bits}-bit)")


def _lr_pixels(paths) -> int:
    """Pixels in the images at ``paths``, from their headers (an unreadable file counts 0; it fails later)."""
    from PIL import Image

    total = 0
    for p in paths:
        try:
            with Image.open(p) as im:
                total += im.width * im.height
        except OSError:
            pass
    return total


def _run_upscale(args) -> int:
    from srlib.accel import want_compile
    from srlib.inference import upscale_file
    from srlib.models import load_upscaler

    _check_tiling(args.tile, args.overlap)
    if not args.checkpoint:
        raise UsageError("srlib upscale needs --checkpoint C (an SR checkpoint: srlib DASR or USR-DU SRN, official "
                         "DASR model_600.pt, ESRGAN or BasicSR RRDBNet weights)")
    jobs = _upscale_jobs(args)
    pixels = _lr_pixels(src for src, _ in jobs)
    compile_ = want_compile(args.compile, pixels)
    if compile_:
        print(f"compiling the network with torch.compile ({pixels / 1e6:.1f} M LR pixels to process; --compile off "
              "skips it)", flush=True)
    upscaler = load_upscaler(args.checkpoint, args.device, tile=args.tile, overlap=args.overlap, amp=args.amp,
                             compile=compile_)
    if Path(args.input).is_file():
        _report_written(upscale_file(upscaler, *jobs[0], overwrite=args.overwrite))
        return 0
    failed = 0
    for src, dst in jobs:
        try:
            written = upscale_file(upscaler, src, dst)
        except InputError as exc:  # a bad image: say so on one line and go on with the others
            failed += 1
            print(f"srlib: error: skipped {src}: {exc}", file=sys.stderr)
            continue
        _report_written(written)
    if failed:
        raise InputError(f"{failed} of {len(jobs)} images could not be upscaled (listed above); the other "
                         f"{len(jobs) - failed} were written to {args.output}")
    return 0


def _run_train(argv: list[str]) -> int:
    if not argv or argv[0] not in TRAINERS:
        got = f"unknown model {argv[0]!r}; " if argv and not argv[0].startswith("-") else ""
        raise UsageError(f"{got}usage: srlib train {'|'.join(TRAINERS)} --profile tiny|paper --out DIR [...] "
                         "(see srlib train dasr -h)")
    try:
        return importlib.import_module(TRAINERS[argv[0]]).cli_main(argv[1:]) or 0
    finally:  # a torchrun rank leaves its process group cleanly
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


def _size_text(e) -> str:
    if e.size is not None:
        return f"{e.size / 1e6:.1f} MB"
    return f"~{e.approx_size}" if e.approx_size else "?"


def _weights_list(as_json: bool) -> int:
    import json

    from srlib import zoo

    rows = [zoo.entry(n) for n in zoo.names()]
    if as_json:
        records = []
        for e in rows:
            rec = e.to_dict()
            rec.update(present=zoo.is_available(e.name), path=str(e.local_path()))
            if e.source == "shipped":
                rec["manifest"] = zoo.manifest_records().get(e.name, {})
            records.append(rec)
        print(json.dumps(records, indent=2))
        return 0
    table = [("NAME", "SOURCE", "SIZE", "PRESENT", "PURPOSE")]
    table += [(e.name, e.source, _size_text(e), "yes" if zoo.is_available(e.name) else "no", e.purpose) for e in rows]
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    for r in table:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[4])
    print(f"\ndownloads go to {zoo.cache_dir()} (set $SRLIB_WEIGHTS to change it); shipped files are in "
          f"{zoo.WEIGHTS_DIR}. `srlib weights get NAME` fetches one, `srlib weights list --json` shows everything.")
    return 0


def _weights_get(names: list[str]) -> int:
    from srlib import zoo

    for n in names:  # every name checked before anything is downloaded
        zoo.entry(n)
    code = 0
    for n in names:
        try:
            print(f"{n}: {zoo.get(n)}")
        except SrlibError as exc:  # go on with the other names; the first failure sets the exit code
            print(f"srlib: error: {exc}", file=sys.stderr)
            code = code or exc.exit_code
    return code


def _run_weights(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="srlib weights", description="The model zoo: named, checksummed weights "
                                     "(srlib's shipped checkpoints, the authors' DASR downloads, manual entries).")
    sub = parser.add_subparsers(dest="action")
    p = sub.add_parser("list", help="one line per entry: name, source, size, present, purpose")
    p.add_argument("--json", action="store_true", help="print every field of every entry as JSON")
    p = sub.add_parser("get", help="download and verify entries (shipped ones: print their path)")
    p.add_argument("names", nargs="+", metavar="NAME")
    args = parser.parse_args(argv)
    if args.action == "list":
        return _weights_list(args.json)
    if args.action == "get":
        return _weights_get(args.names)
    raise UsageError("usage: srlib weights list [--json] | srlib weights get NAME [NAME ...]")


def _run(argv: list[str]) -> int:
    # Sub-commands with their own parsers get the rest of the command line untouched.
    if argv and argv[0] == "train":
        return _run_train(argv[1:])
    if argv and argv[0] == "data":
        from srlib.data.registry import main as data_main

        return data_main(argv[1:]) or 0
    if argv and argv[0] == "weights":
        return _run_weights(argv[1:])
    parser = argparse.ArgumentParser(prog="srlib", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show full tracebacks (also SRLIB_DEBUG=1)")
    sub = parser.add_subparsers(dest="command")
    _evaluate_parser(sub)
    _upscale_parser(sub)
    sub.add_parser("train", help=f"train {' | '.join(TRAINERS)} (see `srlib train dasr -h`)")
    sub.add_parser("data", help="download real data sets (see `srlib data -h`)")
    sub.add_parser("weights", help="the model zoo: `srlib weights list`, `srlib weights get NAME`")
    sub.add_parser("env", help="print the environment report")
    args = parser.parse_args(argv)
    if args.command == "evaluate":
        return _run_evaluate(args)
    if args.command == "upscale":
        return _run_upscale(args)
    if args.command == "env":
        from srlib.env import report

        report()
        return 0
    parser.print_help(sys.stderr)
    return UsageError.exit_code


def _report(exc: BaseException) -> int:
    """Print the one- or two-line message of a failure on stderr and return the exit code."""
    from srlib.runs import TrainingInterrupted

    prefix, code = "srlib: error: ", 1
    if isinstance(exc, TrainingInterrupted):
        prefix, msg, code = "srlib: ", str(exc), 130
    elif isinstance(exc, KeyboardInterrupt):
        prefix, msg, code = "srlib: ", "interrupted", 130
    elif isinstance(exc, SrlibError):
        msg, code = str(exc), exc.exit_code
    elif isinstance(exc, FileNotFoundError):
        msg, code = f"no such file or folder: {exc.filename or exc}", InputError.exit_code
    elif isinstance(exc, OSError):
        err = explain_os_error(exc, f"accessing {exc.filename}" if exc.filename else "reading or writing files")
        msg, code = str(err), err.exit_code
    elif isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":  # torch.cuda.OutOfMemoryError
        msg = "out of memory; use --tile (e.g. --tile 256) or a smaller input, or free memory"
    else:
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        msg = f"internal error: {type(exc).__name__}{': ' + first if first else ''}; {DEBUG_HINT}"
    print(f"{prefix}{msg}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run ``srlib <sub-command>`` and return its exit status (see the module docstring for the error style)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get("SRLIB_DEBUG", "") not in ("", "0")
    while argv and argv[0] == "--debug":  # global flag, before the sub-command
        debug = True
        argv.pop(0)
    try:
        return _run(argv)
    except SystemExit as exc:  # argparse: exit 2 on a usage error, 0 after -h
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
            return 1
        return exc.code or 0
    except BaseException as exc:  # noqa: BLE001 - every failure becomes one message unless --debug
        if debug:
            raise
        return _report(exc)


if __name__ == "__main__":
    sys.exit(main())
