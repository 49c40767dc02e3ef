"""The one evaluator: score an upscaler with PSNR / SSIM (and LPIPS), the engine behind ``srlib evaluate``.

Two protocols, one module:

* **Synthetic LR** (:func:`evaluate_images`, :func:`evaluate`; DASR test code, reference §5): HR is cropped top-left to
  a multiple of the scale, LR is synthesised with one fixed :class:`~srlib.degradations.presets.DegradationSpec` (noise
  seeded per image), the SR output is quantised to 8 bits, and PSNR / SSIM are computed on the Y channel with
  ``scale`` pixels cropped from every border.
* **Given LR/HR pairs** (:func:`evaluate_pairs`; USR-DU paper and code): RGB PSNR / SSIM with a 4-pixel border crop
  (BasicSR ``test_y_channel: false``, ``crop_border: 4``) and LPIPS (AlexNet, linear calibration v0.1) only when
  :func:`srlib.metrics.lpips_available` finds the ImageNet AlexNet weights; otherwise the string ``"unavailable"``,
  never a number from a random backbone. NIQE (NTIRE Track 2, no ground truth needed) with ``niqe=True``
  (:func:`srlib.niqe.niqe`, MATLAB's recipe on Y); otherwise the string :data:`NIQE_STATUS`.

:func:`evaluate` checks everything it can before the first image is degraded: the arguments, that the outputs can be
written, that the data set is there (:class:`~srlib.errors.DataNotFound` says how to get it), that the checkpoint
loads and that its scale is the asked one (:class:`~srlib.errors.CheckpointError`).
"""
from __future__ import annotations

import csv
import io
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import torch

from srlib import metrics
from srlib.data.io import IMAGE_EXTS, modcrop, read_image
from srlib.degradations import degrade, imresize
from srlib.degradations.noise import quantize
from srlib.degradations.presets import DegradationSpec
from srlib.errors import CheckpointError, DataNotFound, InputError, OutputError, UsageError, explain_os_error
from srlib.runs import progress

#: The scales of the benchmark LR sets (EDSR's ``LR_bicubic/X2, X3, X4``).
SCALES = (2, 3, 4)
#: Methods of :func:`evaluate`: the bicubic baseline, or any SR checkpoint (kind read from the file).
METHODS = ("bicubic", "checkpoint")
#: What LPIPS reads without the ImageNet AlexNet weights: never a number from a random backbone.
LPIPS_STATUS = (f"unavailable: needs the ImageNet AlexNet weights ({metrics.ALEXNET_FILENAME}) in the torch hub cache "
                f"or at ${metrics.ALEXNET_ENV}, and the lpips package")
#: What :func:`evaluate_pairs` reports for NIQE when it was not asked for (it costs about a second per image).
NIQE_STATUS = "missing: not computed; evaluate_pairs(..., niqe=True) scores it with srlib.niqe (MATLAB's NIQE)"


def find_hr_folder(data_dir: str | Path, dataset: str) -> Path:
    """Locate the HR images of ``dataset`` under ``data_dir``.

    Accepted layouts: ``DIR/benchmark/NAME/HR``, ``DIR/NAME/HR``, ``DIR/NAME`` (a flat folder of images).

    Raises:
        DataNotFound: none of them holds an image; the message says how to download the set.
    """
    data_dir = Path(data_dir)
    for cand in (data_dir / "benchmark" / dataset / "HR", data_dir / dataset / "HR", data_dir / dataset):
        if cand.is_dir() and any(p.suffix.lower() in IMAGE_EXTS for p in cand.iterdir()):
            return cand
    raise DataNotFound(
        f"no HR images for {dataset!r} under {data_dir} (looked for benchmark/{dataset}/HR, {dataset}/HR and "
        f"{dataset}/); get it with `srlib data {dataset} --root {data_dir}` (or `make data DATASETS={dataset}`)")


def hr_files(data_dir: str | Path | None, dataset: str) -> list[Path]:
    """The HR image files of ``dataset`` (sorted); ``data_dir=None`` reads ``$SRLIB_DATA``."""
    data_dir = data_dir or os.environ.get("SRLIB_DATA")
    if data_dir is None:
        raise UsageError(f"dataset {dataset!r} needs --data-dir (or $SRLIB_DATA) naming the folder that holds it")
    folder = find_hr_folder(data_dir, dataset)
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)


def load_hr_images(data_dir: str | Path | None, dataset: str) -> list[tuple[str, torch.Tensor]]:
    """HR images as ``(name, (C, H, W) float32 in [0, 1])``; ``dataset="builtin"`` uses the built-in test split."""
    if dataset in ("builtin", "builtin-test"):
        from srlib.data.builtin import builtin_images

        return list(builtin_images("test"))
    return [(p.stem, read_image(p)) for p in hr_files(data_dir, dataset)]


class ImageFiles(Sequence):
    """HR image files read one at a time, as ``(name, (C, H, W) float32)`` pairs: a benchmark set scored without
    holding it in memory. :meth:`sizes` reads only the file headers."""

    def __init__(self, files: Sequence[Path]):
        self.files = list(files)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return ImageFiles(self.files[i])
        return self.files[i].stem, read_image(self.files[i])

    def sizes(self) -> list[tuple[str, tuple[int, int]]]:
        """``(name, (H, W))`` of every file, from the headers (no pixel decoding)."""
        from PIL import Image

        out = []
        for p in self.files:
            try:
                with Image.open(p) as im:
                    out.append((p.stem, (im.height, im.width)))
            except OSError as exc:
                raise InputError(f"cannot read {p}: {exc}") from None
        return out


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """``[0, 1]`` floats to ``uint8`` (round half to even, clamp), as :func:`srlib.degradations.noise.quantize`."""
    return (x * 255).round().clamp(0, 255).to(torch.uint8)


def bicubic_upscaler(scale: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """The bicubic baseline: MATLAB ``imresize(uint8 LR, scale)`` (works on any number of channels).

    The LR is put on the 8-bit grid and resized as ``uint8``, so MATLAB's intermediate rounding after the first 1-D pass
    is reproduced, as in the scripts that made the published bicubic tables. Has ``.scale``.
    """

    def run(lr: torch.Tensor) -> torch.Tensor:
        return imresize(to_uint8(lr), scale).float() / 255

    run.needs_rgb, run.scale = False, scale
    return run


def evaluate_images(upscaler: Callable[[torch.Tensor], torch.Tensor], images: Sequence[tuple[str, torch.Tensor]],
                    scale: int, degradation: DegradationSpec, *, seed: int = 1, border: str = "symmetric",
                    y_channel: bool = True, crop: int | None = None, with_ssim: bool = True,
                    show_progress: bool = False, lpips: bool = False, niqe: bool = False) -> dict:
    """Score ``upscaler`` on ``images`` under one fixed degradation (synthetic-LR protocol).

    Args:
        upscaler: maps LR ``(1, C, h, w)`` in [0, 1] to SR ``(1, C, h*s, w*s)``. Unless it has ``needs_rgb=False``,
            grey images are replicated to RGB before it and the SR output is averaged back to one channel (so grey
            images are still scored on their grey values, as the published tables do).
        images: ``(name, (C, H, W) float in [0, 1])`` HR images; they are cropped to a multiple of ``scale``. A
            :class:`ImageFiles` reads each file only when it is scored (a whole set is never in memory at once).
        scale: integer SR factor.
        degradation: the fixed kernel and noise level.
        seed: noise seed; image ``i`` uses ``seed + i`` (the official test seeds once; per-image seeds make each
            number independent of the set's order).
        border: ``"symmetric"`` (MATLAB) or ``"replicate"`` (official DASR code) border handling in the downsampler.
        y_channel: score on Y (DASR protocol) or on RGB (USR-DU protocol).
        crop: border pixels cropped before scoring; default ``scale``.
        with_ssim: also compute SSIM (about half the scoring time); ``None`` is reported when skipped.
        show_progress: a progress bar over the images (on stderr).
        lpips: also LPIPS (AlexNet) of each 8-bit SR against HR, ``crop`` border removed, grey images replicated to
            RGB; only with the real ImageNet AlexNet weights (:func:`srlib.metrics.lpips_available`), otherwise the
            mean reads :data:`LPIPS_STATUS`.
        niqe: also NIQE (:func:`srlib.niqe.niqe`, MATLAB's recipe on Y) of each SR output, ``crop`` border removed.

    Returns:
        ``{"per_image": [{"name", "psnr", "ssim"[, "lpips"][, "niqe"]}...], "psnr": mean, "ssim": mean}``, plus
        ``"lpips"`` / ``"niqe"`` means when asked for.
    """
    crop = scale if crop is None else crop
    need = 2 * crop + (11 if with_ssim else 1)  # SSIM's 11x11 window must fit inside the cropped image
    sizes = images.sizes() if isinstance(images, ImageFiles) else [(n, x.shape[-2:]) for n, x in images]
    for name, size in sizes:  # before any work: a too small image would fail after the others were scored
        h, w = (n - n % scale for n in size)
        if min(h, w) < need:
            raise InputError(f"image {name!r} is {h}x{w} after cropping to a multiple of {scale}; scoring with a "
                             f"{crop}-pixel border crop{' and SSIM' if with_ssim else ''} needs at least {need}x{need}")
    for name, (h, w) in sizes if niqe else ():
        h, w = h - h % scale - 2 * crop, w - w % scale - 2 * crop
        if (h // 96) * (w // 96) < 2:  # NIQE's block covariance needs two 96x96 blocks
            raise InputError(f"image {name!r} is {h}x{w} after the {crop}-pixel border crop; NIQE needs at least "
                             "two 96x96 blocks (96x192 pixels)")
    lp = metrics.LPIPS() if lpips and metrics.lpips_available() else None
    kernel = degradation.kernel()
    needs_rgb = getattr(upscaler, "needs_rgb", True)
    rows = []
    bar = progress(images, total=len(images), desc="images", disable=not show_progress, file=sys.stderr)
    for i, (name, hr) in enumerate(bar):
        hr = modcrop(hr, scale)[None]
        gen = torch.Generator().manual_seed(seed + i)
        if kernel is None and degradation.noise == 0 and border == "symmetric":
            # sigma = 0, no noise: plain bicubic degradation. Resize the 8-bit HR as uint8, exactly as MATLAB made the
            # distributed LR_bicubic files (srlib reproduces them bit for bit); the float path of `degrade` rounds
            # only once and can differ by one grey level on a few pixels.
            lr = imresize(to_uint8(hr), 1 / scale).float() / 255
        else:
            lr = degrade(hr, kernel, scale, noise=degradation.noise, generator=gen, border=border)
        grey = hr.shape[1] == 1
        with torch.no_grad():
            sr = upscaler(lr.expand(-1, 3, -1, -1) if (grey and needs_rgb) else lr)
        if grey and sr.shape[1] == 3:
            sr = sr.mean(dim=1, keepdim=True)
        sr = quantize(sr)
        row = {
            "name": name,
            "psnr": float(metrics.psnr(sr, hr, crop=crop, y_channel=y_channel)[0]),
            "ssim": float(metrics.ssim(sr, hr, crop=crop, y_channel=y_channel)[0]) if with_ssim else None,
        }
        if lp is not None:
            rgb = lambda t: t.expand(-1, 3, -1, -1)[..., crop:t.shape[-2] - crop, crop:t.shape[-1] - crop]  # noqa: E731
            row["lpips"] = float(lp(rgb(sr), rgb(quantize(hr))))
        if niqe:
            from srlib.niqe import niqe as niqe_score

            row["niqe"] = niqe_score(sr[0], crop=crop)
        rows.append(row)
    if not rows:
        raise DataNotFound("no images to evaluate")
    mean = lambda key: sum(r[key] for r in rows) / len(rows)  # noqa: E731
    out = {"per_image": rows, "psnr": mean("psnr"), "ssim": mean("ssim") if with_ssim else None}
    if lpips:
        out["lpips"] = mean("lpips") if lp is not None else LPIPS_STATUS
    if niqe:
        out["niqe"] = mean("niqe")
    return out


def sigma_sweep(upscalers: Mapping[str, Callable[[torch.Tensor], torch.Tensor]],
                images: Sequence[tuple[str, torch.Tensor]], scale: int, sigmas: Sequence[float], *,
                seed: int = 0) -> dict:
    """Mean Y PSNR of several upscalers at several isotropic kernel widths: the cells of DASR's Tables 1 and 2.

    Each cell is :func:`evaluate_images` (synthetic-LR protocol, noise-free, ``scale`` pixels cropped, no SSIM) of one
    upscaler under ``DegradationSpec(scale, sigma=s)``; every upscaler sees the same LR images.

    Args:
        upscalers: ``{row name: upscaler}``, e.g. ``{"bicubic": bicubic_upscaler(4), "DASR": Upscaler(model, 4)}``.
        images: ``(name, (C, H, W) float in [0, 1])`` HR images.
        scale: integer SR factor.
        sigmas: kernel widths (0 = no blur, plain bicubic downsampling).
        seed: noise seed of :func:`evaluate_images` (no effect on noise-free LR; kept for the record).

    Returns:
        ``{row name: tuple of mean PSNRs (dB), one per sigma}``, rows in the order of ``upscalers``.

    >>> imgs = [("a", torch.rand(3, 24, 24, generator=torch.Generator().manual_seed(0)))]
    >>> t = sigma_sweep({"bicubic": bicubic_upscaler(2)}, imgs, 2, (0.0, 1.0))
    >>> list(t), len(t["bicubic"]), t["bicubic"][0] > t["bicubic"][1]
    (['bicubic'], 2, True)
    """
    return {name: tuple(evaluate_images(up, images, scale, DegradationSpec(scale, sigma=float(s)), seed=seed,
                                        with_ssim=False)["psnr"] for s in sigmas)
            for name, up in upscalers.items()}


def evaluate_pairs(upscaler: Callable[[torch.Tensor], torch.Tensor], pairs: Iterable, crop: int = 4,
                   lpips: bool = True, y_channel: bool = False, niqe: bool = False) -> dict:
    """Score ``upscaler`` on given LR/HR pairs (USR-DU protocol: RGB, 4-pixel crop, LPIPS).

    Args:
        upscaler: ``lr (1, 3, h, w) [0, 1] -> sr (1, 3, s h, s w) [0, 1]``.
        pairs: ``(name, lr (3, h, w), hr (3, s h, s w))`` float [0, 1] triples.
        crop: border pixels removed before scoring (paper/code: 4).
        lpips: compute LPIPS when the real AlexNet weights are available.
        y_channel: PSNR / SSIM on Y instead of RGB.
        niqe: also compute NIQE of each SR output (``crop`` border removed; needs 96x96 pixels after the crop).

    Returns:
        ``{"psnr", "ssim": mean floats, "lpips": mean float or "unavailable", "niqe": mean float or
        :data:`NIQE_STATUS`, "per_image": [{"name", "psnr", "ssim"[, "lpips"][, "niqe"]}]}``.

    >>> hr = torch.rand(3, 32, 32)
    >>> lr = torch.nn.functional.avg_pool2d(hr[None], 4)[0]
    >>> up = lambda x: torch.nn.functional.interpolate(x, scale_factor=4, mode="nearest")
    >>> r = evaluate_pairs(up, [("x", lr, hr)], lpips=False)
    >>> sorted(r), r["lpips"]
    (['lpips', 'niqe', 'per_image', 'psnr', 'ssim'], 'unavailable')
    """
    use_lpips = lpips and metrics.lpips_available()
    lp = metrics.LPIPS() if use_lpips else None
    rows = []
    for name, lr, hr in pairs:
        with torch.no_grad():
            sr = upscaler(lr[None])[0]
        if sr.shape != hr.shape:
            raise UsageError(f"{name}: SR {tuple(sr.shape)} vs HR {tuple(hr.shape)}; modcrop the HR to the scale")
        row = {"name": name,
               "psnr": float(metrics.psnr(sr, hr, crop=crop, y_channel=y_channel)),
               "ssim": float(metrics.ssim(sr, hr, crop=crop, y_channel=y_channel))}
        if lp is not None:
            q = lambda t: (t.clamp(0, 1) * 255).round()[None, :, crop:-crop, crop:-crop] / 255  # noqa: E731  uint8 as code
            row["lpips"] = float(lp(q(sr), q(hr)))
        if niqe:
            from srlib.niqe import niqe as niqe_score

            row["niqe"] = niqe_score(sr, crop=crop)
        rows.append(row)
    if not rows:
        raise DataNotFound("no image pairs to evaluate")
    mean = lambda k: sum(r[k] for r in rows) / len(rows)  # noqa: E731
    return {"psnr": mean("psnr"), "ssim": mean("ssim"), "lpips": mean("lpips") if lp is not None else "unavailable",
            "niqe": mean("niqe") if niqe else NIQE_STATUS, "per_image": rows}


def _check_writable(path: str | Path, what: str) -> None:
    """Before any work: a (non-image) file can be written at ``path`` (images: :func:`srlib.data.io.check_output_path`)."""
    path, parent = Path(path), Path(path).parent
    if path.is_dir():
        raise OutputError(f"{what} {path} is a folder; give a file name")
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"cannot write {what} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise OutputError(f"cannot write {what} {path}: permission denied on {path if path.exists() else parent}")


def _write_atomic(path: str | Path, text: str) -> None:
    """Write through a temporary file and ``os.replace``: ``path`` ends whole or untouched, no ``.tmp`` is left."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise explain_os_error(exc, f"writing {path}") from None


def _check_arguments(method, scale, degradation, checkpoint, crop, border) -> None:
    if method not in METHODS:
        raise UsageError(f"unknown method {method!r}; expected 'bicubic' or 'checkpoint' (the model kind is read from "
                         "the checkpoint file)")
    if (method == "checkpoint") != (checkpoint is not None):
        raise UsageError("--method checkpoint needs --checkpoint" if checkpoint is None
                         else "--checkpoint is only used with --method checkpoint")
    if scale not in SCALES:
        raise UsageError(f"scale must be one of {SCALES}, got {scale!r}")
    if not isinstance(degradation, DegradationSpec):
        raise UsageError(f"degradation must be a DegradationSpec, got {type(degradation).__name__}")
    if degradation.scale is not None and degradation.scale != scale:
        raise UsageError(f"the degradation {degradation.label!r} is for x{degradation.scale}, not x{scale}")
    if crop is not None and (isinstance(crop, bool) or not isinstance(crop, int) or crop < 0):
        raise UsageError(f"crop must be an int >= 0, got {crop!r}")
    if border not in ("symmetric", "replicate"):
        raise UsageError(f"border must be 'symmetric' or 'replicate', got {border!r}")


def evaluate(method: str | None = None, *, dataset: str, scale: int, degradation: DegradationSpec,
             data_dir: str | Path | None = None, checkpoint: str | Path | None = None, seed: int = 1,
             border: str = "symmetric", y_channel: bool = True, crop: int | None = None, device: str | None = None,
             tile: int | None = None, overlap: int = 16, json_out: str | Path | None = None,
             csv_out: str | Path | None = None, show_progress: bool = False, lpips: bool = False,
             niqe: bool = False) -> dict:
    """Evaluate the bicubic baseline or any SR checkpoint on a benchmark under one fixed degradation.

    Args:
        method: ``"bicubic"`` or ``"checkpoint"``; ``None`` picks ``"checkpoint"`` when ``checkpoint`` is given.
        dataset: ``Set5``, ``Set14``, ``B100``, ``Urban100``, ... (found under ``data_dir``) or ``"builtin"``.
        checkpoint: any SR checkpoint :func:`srlib.models.load_upscaler` reads; its scale must be ``scale``.
        tile, overlap: tiled inference (LR pixels), passed to the upscaler.
        json_out, csv_out: write the result (JSON: everything; CSV: one row per image), atomically.
        show_progress: a progress bar over the images (stderr).
        lpips, niqe: also score LPIPS (real AlexNet weights only) and NIQE per image (:func:`evaluate_images`).
        The other arguments are those of :func:`evaluate_images`.

    Returns:
        The :func:`evaluate_images` result plus the settings (method, dataset, scale, degradation, seed, ...).

    Raises:
        UsageError: a bad argument. OutputError: an output that cannot be written. DataNotFound: the data set is not
        there. CheckpointError: the checkpoint cannot be loaded, is not an SR model, or is for another scale.
    """
    method = method or ("checkpoint" if checkpoint is not None else "bicubic")
    _check_arguments(method, scale, degradation, checkpoint, crop, border)
    for out, what in ((json_out, "JSON output"), (csv_out, "CSV output")):
        if out is not None:
            _check_writable(out, what)
    files = None if dataset in ("builtin", "builtin-test") else hr_files(data_dir, dataset)
    if method == "bicubic":
        upscaler = bicubic_upscaler(scale)
    else:
        from srlib.models import load_upscaler

        upscaler = load_upscaler(checkpoint, device, tile=tile, overlap=overlap)
        if upscaler.scale != scale:
            raise CheckpointError(f"{checkpoint} is a x{upscaler.scale} model but --scale {scale} was asked; evaluate "
                                  f"it with --scale {upscaler.scale} or give a x{scale} checkpoint")
    images = load_hr_images(None, dataset) if files is None else ImageFiles(files)
    result = evaluate_images(upscaler, images, scale, degradation, seed=seed, border=border, y_channel=y_channel,
                             crop=crop, show_progress=show_progress, lpips=lpips, niqe=niqe)
    result = {
        "method": method, "dataset": dataset, "scale": scale, "degradation": asdict(degradation),
        "degradation_label": degradation.label, "seed": seed, "border": border,
        "channel": "Y" if y_channel else "RGB", "crop": scale if crop is None else crop,
        "checkpoint": str(checkpoint) if checkpoint else None, "tile": tile, **result,
    }
    if json_out:
        _write_atomic(json_out, json.dumps(result, indent=2))
    if csv_out:
        table = io.StringIO()
        writer = csv.DictWriter(table, fieldnames=list(result["per_image"][0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(result["per_image"])
        _write_atomic(csv_out, table.getvalue())
    return result
