"""``srlib`` command-line interface (also ``python -m srlib``).

Sub-commands::

    srlib evaluate --method bicubic|dasr|usrdu --dataset Set5 --data-dir DIR --scale 4 [--kernel-width 1.2 |
                   --aniso L1,L2,THETA_DEG | --preset table3:K] [--noise N] [--checkpoint C] --json OUT
    srlib upscale --checkpoint C in.png out.png [--tile N]
    srlib train dasr|usrdu-dsn|usrdu-srn --profile tiny|paper --out DIR [...]
    srlib data NAME [NAME ...] [--root data]

``evaluate`` prints per-image and mean PSNR / SSIM and writes them as JSON. Its flags are stable: later chapters and
tests call it.
"""
from __future__ import annotations

import argparse
import json
import sys


def _evaluate_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="PSNR/SSIM of a method on a benchmark under a fixed degradation")
    p.add_argument("--method", default="bicubic", choices=("bicubic", "dasr", "usrdu"))
    p.add_argument("--checkpoint", help="checkpoint for --method dasr|usrdu (srlib or official)")
    p.add_argument("--data-dir", help="folder holding benchmark/<dataset>/HR (or <dataset>/HR)")
    p.add_argument("--dataset", default="Set5", help="Set5, Set14, B100, Urban100, ... or 'builtin'")
    p.add_argument("--scale", type=int, default=4, choices=(2, 3, 4))
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
    p.add_argument("--device", default=None)
    p.add_argument("--json", dest="json_out", help="write the result here as JSON")


def _degradation_from_args(args):
    from srlib.evaluate import FixedDegradation

    if args.aniso:
        try:
            l1, l2, theta = (float(v) for v in args.aniso.split(","))
        except ValueError:
            raise SystemExit(f"--aniso expects 'lambda1,lambda2,theta_degrees', got {args.aniso!r}")
        return FixedDegradation(lambda1=l1, lambda2=l2, theta_deg=theta, noise=args.noise)
    if args.preset:
        from srlib.degradations.presets import TABLE3_KERNELS

        name, _, idx = args.preset.partition(":")
        if name != "table3" or not idx.isdigit() or not 1 <= int(idx) <= len(TABLE3_KERNELS):
            raise SystemExit(f"--preset expects table3:1 .. table3:{len(TABLE3_KERNELS)}, got {args.preset!r}")
        l1, l2, theta = TABLE3_KERNELS[int(idx) - 1]
        return FixedDegradation(lambda1=l1, lambda2=l2, theta_deg=theta, noise=args.noise)
    return FixedDegradation(sigma=args.kernel_width, noise=args.noise)


def _run_evaluate(args) -> int:
    from srlib.evaluate import evaluate

    deg = _degradation_from_args(args)
    result = evaluate(args.method, dataset=args.dataset, scale=args.scale, degradation=deg, data_dir=args.data_dir,
                      checkpoint=args.checkpoint, seed=args.seed, border=args.border, y_channel=not args.rgb,
                      crop=args.crop, device=args.device, json_out=args.json_out)
    print(f"{args.method} on {args.dataset} x{args.scale}, {deg.label()}, {result['channel']}, crop {result['crop']}")
    width = max(len(r["name"]) for r in result["per_image"])
    for r in result["per_image"]:
        print(f"  {r['name']:<{width}}  PSNR {r['psnr']:7.3f} dB  SSIM {r['ssim']:.4f}")
    print(f"  {'mean':<{width}}  PSNR {result['psnr']:7.3f} dB  SSIM {result['ssim']:.4f}")
    if args.json_out:
        print(f"wrote {args.json_out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Sub-commands owned by other modules get the rest of the command line untouched.
    if argv and argv[0] == "upscale":
        from srlib.inference import cli_main

        return cli_main(argv[1:]) or 0
    if argv and argv[0] == "train":
        if len(argv) < 2 or argv[1] not in ("dasr", "usrdu-dsn", "usrdu-srn"):
            print("usage: srlib train dasr|usrdu-dsn|usrdu-srn --profile tiny|paper --out DIR [...]", file=sys.stderr)
            return 2
        if argv[1] == "dasr":
            from srlib.dasr.train import cli_main

            return cli_main(argv[2:]) or 0
        from srlib.usrdu.train import cli_main

        return cli_main(argv[2:], stage=argv[1].split("-")[1]) or 0
    if argv and argv[0] == "data":
        from srlib.data.registry import main as data_main

        return data_main(argv[1:]) or 0

    parser = argparse.ArgumentParser(prog="srlib", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    _evaluate_parser(sub)
    sub.add_parser("upscale", help="super-resolve an image (see `srlib upscale -h`)")
    sub.add_parser("train", help="train dasr | usrdu-dsn | usrdu-srn (see `srlib train dasr -h`)")
    sub.add_parser("data", help="download real data sets (see `srlib data -h`)")
    sub.add_parser("env", help="print the environment report")
    args = parser.parse_args(argv)
    if args.command == "evaluate":
        return _run_evaluate(args)
    if args.command == "env":
        from srlib.env import report

        report()
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
