# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. Degradation models
#
# Every blind super-resolution method starts from a model of how low-resolution (LR) images come about. DASR
# (Wang et al., CVPR 2021, Eq. 1) writes it as
#
# $$ I^{LR} = (I^{HR} \otimes k)\downarrow_s + n, $$
#
# a blur with kernel $k$, a bicubic downsampler $\downarrow_s$ and additive noise $n$, followed in practice by
# quantisation to 8 bits. USR-DU (Ning et al., IJCAI 2022) argues that real degradations do not fit such a model and
# learns them instead; its starting point is the *residual* between a real LR image and the bicubic one.
#
# **In this chapter you will**
#
# - build the degradation model of Eq. 1 step by step on real images, with `srlib.degradations`;
# - see what blur, downsampling, noise and quantisation do to pixels and to the spectrum;
# - check that srlib's `imresize` is MATLAB's, because "bicubic" in the SR literature means MATLAB's `imresize`;
# - reproduce the *Bicubic* row of DASR's Table 2 and find out why its blurred columns do not follow from the stated
#   protocol;
# - redraw USR-DU's Fig. 2 on a stand-in camera: fit a Gaussian and a Laplacian to real-minus-bicubic residuals.

# %%
import math
import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

import srlib.env
import srlib.show
from srlib.show import show_source

srlib.env.report()
srlib.show.book_style()  # readable text in figures scaled to the page
torch.set_num_threads(max(1, torch.get_num_threads()))
_chapter_start = time.perf_counter()

# %% tags=["parameters"]
profile = "tiny"  # "tiny" or "paper": this chapter trains nothing, the profile only changes how many images it uses
seed = 0          # seeds every random draw in this chapter (noise realisations, image choice)

# %%
from srlib.config import BOOK_PROFILES, check_profile

check_profile(profile, BOOK_PROFILES)
gen = torch.Generator().manual_seed(seed)
DATA = srlib.env.data_root()
print(f"profile={profile}, seed={seed}, benchmark data: {DATA or 'none (built-in images only)'}")

# %% [markdown]
# ## 1.1 The images
#
# The built-in corpus is a handful of photographs that scikit-image ships inside its wheel, so the book runs without
# downloads. When real benchmark sets are present (`SRLIB_DATA` or `data/`, see `make data`), the chapter uses them too.

# %%
from srlib.data.builtin import builtin_images
from srlib.data.io import modcrop, read_image

test_images = builtin_images("test")
print("built-in test images:", ", ".join(f"{n} {tuple(x.shape[1:])}" for n, x in test_images))
if DATA is not None and (DATA / "benchmark/Set5/HR/butterfly.png").is_file():
    name, hr = "butterfly", read_image(DATA / "benchmark/Set5/HR/butterfly.png")
else:
    name, hr = test_images[0]
hr = modcrop(hr, 12)
print(f"running example: {name}, {tuple(hr.shape)}")

# %% [markdown]
# ## 1.2 Blur kernels
#
# DASR uses 21×21 Gaussian kernels. *Isotropic* kernels have one width σ; *anisotropic* ones have two standard
# deviations λ1, λ2 along axes rotated by θ. (The paper calls λ "eigenvalues"; in the official code they are standard
# deviations, and srlib follows the code.) σ = 0 means no blur at all.

# %%
from srlib.degradations.kernels import anisotropic_gaussian, isotropic_gaussian

show_source(isotropic_gaussian)

# %%
from srlib.degradations import presets

widths = [0.2, 0.6, 1.2, 1.8, 2.4, 3.0, 3.6, 4.0]
iso = isotropic_gaussian(torch.tensor(widths))
aniso_specs = presets.TABLE3_KERNELS
aniso = anisotropic_gaussian(torch.tensor([s[0] for s in aniso_specs]), torch.tensor([s[1] for s in aniso_specs]),
                             torch.tensor([math.radians(s[2]) for s in aniso_specs]))
fig, axes = plt.subplots(2, 9, figsize=(15, 5))
for ax, k, w in zip(axes[0], iso, widths):
    ax.imshow(k, cmap="magma"); ax.set_title(f"σ={w}", fontsize=15)
axes[0, -1].axis("off")
for ax, k, s in zip(axes[1], aniso, aniso_specs):
    ax.imshow(k, cmap="magma"); ax.set_title(f"λ=({s[0]:g}, {s[1]:g})\nθ={s[2]:g}°", fontsize=15)
for ax in axes.flat:
    ax.set_xticks([]); ax.set_yticks([])
fig.suptitle("Top: isotropic kernels. Bottom: the nine anisotropic kernels of DASR Table 3 (third-party list)")
plt.tight_layout(); plt.show()
print("kernel sums:", [round(float(k.sum()), 6) for k in iso[:3]], "... (all normalised to 1)")

# %% [markdown]
# ## 1.3 Eq. 1, one step at a time
#
# We degrade the running example at ×4 with σ = 2.4 and noise level 10 (on the 0–255 scale), keeping every
# intermediate result.

# %%
from srlib.degradations import blur, degrade, imresize
from srlib.degradations.noise import add_gaussian_noise, quantize

scale, sigma, noise_level = 4, 2.4, 10.0
x = hr[None]                                                     # (1, 3, H, W) in [0, 1]
k = isotropic_gaussian(sigma)                                    # (21, 21)
blurred = blur(x, k)                                             # HR ⊛ k, reflect padding
down = imresize(blurred, 1 / scale)                              # MATLAB bicubic with antialiasing
noisy = add_gaussian_noise(down, noise_level, generator=torch.Generator().manual_seed(seed))
lr = quantize(noisy)                                             # round to the 8-bit grid, clamp to [0, 1]
lr_direct = degrade(x, k, scale, noise=noise_level, generator=torch.Generator().manual_seed(seed))
print("step-by-step equals srlib.degradations.degrade:", torch.equal(lr, lr_direct))

def crop_of(img, frac=(0.35, 0.35), size=0.3):
    _, h, w = img.shape
    t, l, s = int(frac[0] * h), int(frac[1] * w), int(size * min(h, w))
    return img[:, t:t + s, l:l + s]

stages = [("HR", x[0]), ("blurred", blurred[0]), ("↓4 (bicubic)", down[0]), ("+ noise 10", noisy[0]),
          ("quantised LR", lr[0])]
fig, axes = plt.subplots(2, 5, figsize=(15, 6))
for (title, img), top, bottom in zip(stages, axes[0], axes[1]):
    top.imshow(img.clamp(0, 1).permute(1, 2, 0)); top.set_title(f"{title} {tuple(img.shape[1:])}")
    bottom.imshow(crop_of(img.clamp(0, 1)).permute(1, 2, 0), interpolation="nearest"); bottom.set_title("crop")
for ax in axes.flat:
    ax.axis("off")
plt.tight_layout(); plt.show()

# %% [markdown]
# ### What each step does to the spectrum
#
# Blur is a low-pass filter: it multiplies the spectrum by the kernel's Fourier transform (another Gaussian). The
# downsampler keeps only frequencies below the new Nyquist limit; MATLAB's antialiasing widens the bicubic kernel by
# the scale factor so that little aliasing folds back. Noise is white: it adds a flat floor at all frequencies, and
# quantisation adds a much smaller one. Below: the radially averaged power spectrum of each stage, with frequency in
# cycles per *HR* pixel so that the curves line up.

# %%
def radial_power(img, hr_pixel_scale=1):
    y = img.mean(0).double().numpy()
    # Power per unit *HR* area: an LR image covers hr_pixel_scale**2 HR pixels per pixel, so scale it up to match.
    f = np.abs(np.fft.fftshift(np.fft.fft2(y - y.mean()))) ** 2 / y.size * hr_pixel_scale ** 2
    h, w = y.shape
    yy, xx = np.indices((h, w))
    r = np.hypot((yy - h / 2) / h, (xx - w / 2) / w)            # cycles per (this image's) pixel
    bins = np.linspace(0, 0.5, 40)
    idx = np.digitize(r.ravel(), bins)
    prof = np.array([f.ravel()[idx == i].mean() if np.any(idx == i) else np.nan for i in range(1, len(bins))])
    return (bins[1:] + bins[:-1]) / 2 / hr_pixel_scale, prof

fig, ax = plt.subplots(figsize=(7, 4))
for (title, img), s in zip(stages, [1, 1, scale, scale, scale]):
    fr, p = radial_power(img, s)
    ax.semilogy(fr, p, label=title)
ax.axvline(0.5 / scale, color="grey", ls=":", label="LR Nyquist")
ax.set_xlabel("frequency (cycles per HR pixel)"); ax.set_ylabel("power"); ax.legend(); ax.set_title(name)
plt.tight_layout(); plt.show()

# %% [markdown]
# Noise and quantisation, pixel by pixel: the noise is i.i.d. per pixel *and* per channel (colour noise), and the
# final rounding puts every value back on the 8-bit grid.

# %%
resid_noise = (noisy - down).flatten() * 255
resid_quant = (lr - noisy).flatten() * 255
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
axes[0].hist(resid_noise.numpy(), bins=80, density=True)
axes[0].set_title(f"added noise × 255: std {resid_noise.std():.2f} (asked {noise_level})")
axes[1].hist(resid_quant.numpy(), bins=80, density=True)
axes[1].set_title(f"quantisation error × 255: std {resid_quant.std():.3f} (uniform: {1 / math.sqrt(12):.3f})")
plt.tight_layout(); plt.show()
print("LR values on the 8-bit grid:", torch.equal(lr * 255, (lr * 255).round()))

# %% [markdown]
# ## 1.4 "Bicubic" means MATLAB's `imresize`
#
# Every published SR table was made with MATLAB's `imresize(..., 'bicubic')`. It is not the bicubic of PIL, OpenCV or
# `torch.nn.functional.interpolate`: on downscaling it widens the cubic kernel by the scale factor (antialiasing),
# normalises the weights of every output pixel, mirrors the image at the borders (`symmetric` padding), and on
# `uint8` input it rounds after the first of its two 1-D passes. srlib's port does all of that in torch, batched and
# differentiable. A published check: MATLAB resizes the 8×8 ramp 0..63 by 1/4 to
# `[[12.3838, 16.6318], [46.3682, 50.6162]]`.

# %%
show_source(imresize, start="def imresize", stop='"""')

# %%
ramp = torch.arange(64, dtype=torch.float64).reshape(1, 1, 8, 8)
print(imresize(ramp, 1 / 4)[0, 0].numpy().round(4))
for aa in (False, True):
    torch_bicubic = torch.nn.functional.interpolate(x, scale_factor=1 / scale, mode="bicubic", align_corners=False,
                                                    antialias=aa)
    print(f"max |srlib imresize - torch interpolate(antialias={aa})| on {name} at 1/{scale}: "
          f"{float((torch_bicubic - imresize(x, 1 / scale)).abs().max() * 255):.1f} grey levels")

# %% [markdown]
# When benchmark data is present we can also compare with the LR files that MATLAB produced for Set5 and Set14.

# %%
if DATA is not None:
    from PIL import Image

    matches, total = 0, 0
    # At tiny only Set5 (the tests check all 57 files of Set5 and Set14 on every CI run).
    for set_name in ("Set5",) if profile == "tiny" else ("Set5", "Set14"):
        for hr_path in sorted((DATA / "benchmark" / set_name / "HR").glob("*.png")):
            hr8 = torch.from_numpy(np.array(Image.open(hr_path)))
            hr8 = hr8[..., None] if hr8.ndim == 2 else hr8
            hr8 = hr8.permute(2, 0, 1)
            for s in (2, 3, 4):
                ref = torch.from_numpy(np.array(Image.open(
                    DATA / "benchmark" / set_name / "LR_bicubic" / f"X{s}" / f"{hr_path.stem}x{s}.png")))
                ref = ref[..., None] if ref.ndim == 2 else ref
                ours = imresize(modcrop(hr8, s), 1 / s)
                matches += int(torch.equal(ours, ref.permute(2, 0, 1)))
                total += 1
    print(f"uint8 imresize equals MATLAB's LR_bicubic files bit for bit: {matches}/{total}")

# %% [markdown]
# ## 1.5 The Bicubic row of DASR Table 2
#
# Protocol (the official DASR test code): crop HR to a multiple of the scale, blur with the 21×21 Gaussian of width
# σ (none for σ = 0), downsample with bicubic `imresize`, quantise, upsample the LR back with bicubic `imresize`,
# quantise, and compute PSNR on the Y channel (MATLAB `rgb2ycbcr`) with `scale` pixels cropped at every border.
# `srlib evaluate --method bicubic` runs exactly this; here we call the same function from Python.

# %%
from srlib.degradations.presets import DegradationSpec
from srlib.evaluate import bicubic_upscaler, evaluate_images, load_hr_images
from srlib.published import DASR_TABLE2_BICUBIC

sets = [s for s in ("Set5", "Set14", "B100", "Urban100")
        if DATA is not None and (DATA / "benchmark" / s / "HR").is_dir()]
if profile == "tiny":
    sets = [s for s in sets if s in ("Set5", "Set14")] or sets  # B100/Urban100 need minutes: paper profile only
image_sets = {s: load_hr_images(DATA, s) for s in sets}
if not image_sets:
    image_sets = {"built-in test": test_images}
print("sets:", {k: len(v) for k, v in image_sets.items()})

t0 = time.perf_counter()
rows = []
for s_name, imgs in image_sets.items():
    for scale_ in (2, 3, 4):
        for j, w in enumerate(DASR_TABLE2_BICUBIC[scale_]["widths"]):
            # SSIM only where the literature reports it (sigma = 0): it costs as much as everything else together.
            res = evaluate_images(bicubic_upscaler(scale_), imgs, scale_, DegradationSpec(sigma=w), seed=seed,
                                  with_ssim=(w == 0))
            paper = DASR_TABLE2_BICUBIC[scale_].get(s_name, (None,) * 4)[j]
            rows.append({"set": s_name, "scale": scale_, "sigma": w, "psnr": res["psnr"], "ssim": res["ssim"],
                         "paper": paper, "diff": None if paper is None else res["psnr"] - paper})
print(f"{len(rows)} cells in {time.perf_counter() - t0:.1f} s")

# %%
import pandas as pd

table = pd.DataFrame(rows)
pd.set_option("display.precision", 3)
def cell_text(r):
    ours = f"{r.psnr:.2f}" + ("" if pd.isna(r.ssim) else f"/{r.ssim:.4f}")
    return ours if pd.isna(r.paper) else f"{ours} (paper {r.paper:.2f}, {r['diff']:+.2f})"

table["width"] = [f"σ{i}" for i in table.groupby(["set", "scale"]).cumcount()]
wide = table.assign(text=table.apply(cell_text, axis=1)).pivot(index=["set", "scale"], columns="width", values="text")
wide.columns = [f"{c}" for c in wide.columns]
print(f"Bicubic: Y-PSNR (and SSIM at σ = 0; crop = scale, seed {seed}); σ0..σ3 are the widths of Table 2 for each scale:")
for sc_ in (2, 3, 4):
    print(f"  x{sc_}: σ = {DASR_TABLE2_BICUBIC[sc_]['widths']}")
display(wide)

# %%
from myst_nb import glue

zero = table[(table.sigma == 0) & table.paper.notna()]
if len(zero):
    worst = zero["diff"].abs().max()
    print(f"sigma = 0 columns: largest |ours - paper| = {worst:.3f} dB over {len(zero)} cells")
    assert worst <= 0.02, "the sigma = 0 (plain bicubic) columns must reproduce the paper within 0.02 dB"
    glue("ch1_sigma0", f"The σ = 0 numbers match the paper's Bicubic row to {worst:.3f} dB at most ({len(zero)} "
         "cells).", display=False)
else:
    glue("ch1_sigma0", "This run used the built-in photographs, which the paper does not report, so there is no "
         "σ = 0 cell to compare.", display=False)
blurred_cells = table[(table.sigma > 0) & table.paper.notna()]
if len(blurred_cells):
    print(f"blurred columns: ours - paper ranges from {blurred_cells['diff'].min():+.2f} to "
          f"{blurred_cells['diff'].max():+.2f} dB (mean {blurred_cells['diff'].mean():+.2f})")

# %% [markdown]
# ### Paper vs. code: where do the blurred Bicubic columns come from?
#
# The σ = 0 columns match the paper to the hundredth of a dB. The blurred columns do not: following the stated
# protocol gives *higher* PSNR than the paper prints, by more as σ grows. To find out which protocol produced the
# paper's numbers we score candidate variants on the blurred cells and compare each with the paper:
#
# - **stated**: the protocol above (MATLAB-symmetric borders);
# - **official border**: the official DASR code's downsampler, which clamps taps to the edge (`border="replicate"`);
# - **no antialias**: bicubic downsampling without MATLAB's antialiasing (a common re-implementation);
# - **s-fold**: blur, then keep the top-left pixel of each s×s block (the "s-fold" downsampler of DAN and USRNet);
# - **RGB PSNR**: the stated degradation, scored on RGB instead of Y;
# - **wider kernel (×r)**: the stated protocol with every kernel width multiplied by r, for a small grid of r.
#
# At `tiny` the sweep uses Set5 only (it is the slowest cell of the chapter); `paper` sweeps every set present.

# %%
from srlib.metrics import psnr

def score_variant(variant, imgs, scale_, w, ratio=1.0):
    """Mean Y-PSNR (RGB for the 'RGB PSNR' variant) of bicubic SR under one variant of the degradation."""
    up = bicubic_upscaler(scale_)
    vals = []
    for _, img in imgs:
        h = modcrop(img, scale_)[None]
        k = isotropic_gaussian(w * ratio)
        if variant == "official border":
            lr_ = degrade(h, k, scale_, border="replicate")
        elif variant == "no antialias":
            lr_ = quantize(imresize(blur(h, k), 1 / scale_, antialias=False))
        elif variant == "s-fold":
            lr_ = quantize(blur(h, k)[..., ::scale_, ::scale_])
        else:  # "stated", "RGB PSNR", "wider kernel"
            lr_ = degrade(h, k, scale_)
        sr_ = quantize(up(lr_))
        vals.append(float(psnr(sr_, h, crop=scale_, y_channel=(variant != "RGB PSNR"))[0]))
    return sum(vals) / len(vals)

variants = ["stated", "official border", "no antialias", "s-fold", "RGB PSNR"]
ratios = [1.15, 1.25, 1.35]
paper_sets = [s for s in image_sets if s in DASR_TABLE2_BICUBIC[2]]
sweep_sets = paper_sets[:1] if profile == "tiny" else paper_sets
vrows = []
t0 = time.perf_counter()
for s_name in sweep_sets:
    for scale_ in (2, 3, 4):
        for j, w in enumerate(DASR_TABLE2_BICUBIC[scale_]["widths"][1:], start=1):
            paper = DASR_TABLE2_BICUBIC[scale_][s_name][j]
            cell = {"set": s_name, "scale": scale_, "sigma": w}
            for v in variants:
                vrows.append({**cell, "variant": v, "diff": score_variant(v, image_sets[s_name], scale_, w) - paper})
            for r_ in ratios:
                vrows.append({**cell, "variant": f"wider kernel ×{r_}",
                              "diff": score_variant("stated", image_sets[s_name], scale_, w, ratio=r_) - paper})
print(f"variant sweep on {sweep_sets}: {len(vrows)} cells in {time.perf_counter() - t0:.1f} s")
if vrows:
    vt = pd.DataFrame(vrows)
    summary = vt.groupby("variant", sort=False)["diff"].agg(
        mean="mean", mean_abs=lambda d: d.abs().mean(), worst=lambda d: d.abs().max())
    display(summary.round(3))
    display(vt.pivot_table(index=["set", "scale", "sigma"], columns="variant", values="diff", sort=False).round(2))
    best = summary["mean_abs"].idxmin()
    print(f"closest variant: {best} (mean |ours - paper| = {summary.loc[best, 'mean_abs']:.3f} dB, "
          f"worst {summary.loc[best, 'worst']:.3f} dB); stated protocol: {summary.loc['stated', 'mean_abs']:.3f} dB")
else:
    print("No benchmark set with published numbers is present: run with SRLIB_DATA set (or `make data`) to see the "
          "variant sweep.")

# %% [markdown]
# **What the sweep says.** None of the protocol variants (borders, antialiasing, s-fold, RGB) explains the gap: the
# official border changes them by about 0.01 dB at most, no-antialias moves the numbers the wrong way, RGB scoring lowers the
# small widths far more than the paper does, and s-fold falls well below the paper at small widths but stays above
# it at large ones. What does explain it is the *width* of the blur: the
# paper's blurred columns behave as if every kernel were about a quarter wider than its label, at every scale (see the
# "wider kernel" rows; at `tiny` on Set5, at `paper` on every set present). The largest remaining misfit is at ×4,
# σ = 3.6, where a 1.25× wider kernel (σ = 4.5) no longer fits in the 21×21 window and is truncated. We cannot tell
# from the paper or the released code where that factor comes from (the script that produced the Bicubic row was
# not released), so srlib keeps the protocol the paper states, which is also what the official test code does for
# DASR itself, and reports the gap.

# %% [markdown]
# ## 1.6 Real degradations are not Gaussian: USR-DU Fig. 2
#
# USR-DU motivates its uncertainty model with one histogram: the difference between a real LR image and the bicubic
# downscaling of its HR image. If degradations were "bicubic plus Gaussian noise", the residual would be Gaussian. In
# the paper's figure, on NTIRE 2020 Track 1, it is more peaked with heavier tails, and a Laplacian fits it better.
#
# At `tiny` we do not have real camera pairs, so srlib ships a documented stand-in for NTIRE 2020 Track 1's unknown
# degradation: a hidden anisotropic blur, signal-dependent noise and JPEG compression.

# %%
from srlib.degradations.realworld import RealWorldDegradation

show_source(RealWorldDegradation)

# %%
def residual_fits(r):
    """Maximum-likelihood Gaussian (mean, std) and Laplacian (median, mean absolute deviation) fits of residuals
    ``r`` (1-D, grey levels), with the mean log-likelihood per pixel of each."""
    mu_g, sd_g = r.mean(), r.std(unbiased=False)
    mu_l = r.median()
    b_l = (r - mu_l).abs().mean()
    ll_g = (-0.5 * ((r - mu_g) / sd_g) ** 2 - torch.log(sd_g * math.sqrt(2 * math.pi))).mean()
    ll_l = (-(r - mu_l).abs() / b_l - torch.log(2 * b_l)).mean()
    return (mu_g, sd_g, ll_g), (mu_l, b_l, ll_l)

def plot_residuals(r, title):
    (mu_g, sd_g, ll_g), (mu_l, b_l, ll_l) = residual_fits(r)
    lim = math.ceil(float(r.abs().quantile(0.995)))
    grid = torch.linspace(-lim, lim, 400, dtype=torch.float64)
    fig, ax = plt.subplots(figsize=(7, 4))
    # Both LR images are on the 8-bit grid, so residuals are whole grey levels: one bin per level.
    ax.hist(r.numpy(), bins=np.arange(-lim - 0.5, lim + 1.5), density=True, color="lightgrey",
            label="real − bicubic LR")
    ax.plot(grid, torch.exp(-0.5 * ((grid - mu_g) / sd_g) ** 2) / (sd_g * math.sqrt(2 * math.pi)),
            label=f"Gaussian fit, mean log-lik {ll_g:.3f}")
    ax.plot(grid, torch.exp(-(grid - mu_l).abs() / b_l) / (2 * b_l), label=f"Laplacian fit, mean log-lik {ll_l:.3f}")
    ax.set_xlabel("residual (grey levels)"); ax.set_ylabel("density"); ax.legend(); ax.set_title(title)
    plt.tight_layout(); plt.show()
    print(f"{r.numel()} residuals: Gaussian log-likelihood per pixel {ll_g:.4f}, Laplacian {ll_l:.4f} "
          f"(higher is better): the Laplacian wins by {ll_l - ll_g:.4f} nats/pixel")

real = RealWorldDegradation(scale=4)
residuals = []
for i, (n_, img) in enumerate(test_images):
    h = modcrop(img, 4)[None]
    y_real = real(h, generator=torch.Generator().manual_seed(seed + i))
    y_bic = quantize(imresize(h, 1 / 4))
    residuals.append(((y_real - y_bic) * 255).flatten())
plot_residuals(torch.cat(residuals).double(),
               f"Stand-in real-world degradation, {len(test_images)} built-in test images (seed {seed})")
(_, _, ll_gauss), (_, _, ll_lap) = residual_fits(torch.cat(residuals).double())
glue("ch1_fig2", f"On the stand-in camera the Laplacian fits {'better' if ll_lap > ll_gauss else 'worse'} than the "
     f"Gaussian, by {abs(float(ll_lap - ll_gauss)):.3f} nats per pixel in mean log-likelihood.", display=False)

# %% [markdown]
# {glue:text}`ch1_fig2` With real data (NTIRE 2020 Track 1 validation pairs, `make data DATASETS=NTIRE2020_Track1`, which must be fetched
# by hand after registering for the challenge), the same cell runs on the real corrupted LR images.

# %%
track1 = None
for root in (Path(os.environ.get("SRLIB_DATA", "data")), Path("data")):
    if (root / "NTIRE2020_Track1" / "Corrupted-va-x").is_dir():
        track1 = root / "NTIRE2020_Track1"
        break
if track1 is None:
    print("NTIRE 2020 Track 1 validation pairs not found (data/NTIRE2020_Track1/Corrupted-va-{x,y}): skipped.")
else:
    lr_files = sorted((track1 / "Corrupted-va-x").glob("*.png"))[: 10 if profile == "tiny" else None]
    res_real = []
    for f in lr_files:
        y_real = read_image(f)
        hr_ = read_image(track1 / "Corrupted-va-y" / f.name)
        hr_ = hr_[:, : y_real.shape[1] * 4, : y_real.shape[2] * 4]
        res_real.append(((y_real - quantize(imresize(hr_[None], 1 / 4))[0]) * 255).flatten())
    plot_residuals(torch.cat(res_real).double(), f"NTIRE 2020 Track 1 validation, {len(lr_files)} pairs")

# %%
print(f"chapter ran in {time.perf_counter() - _chapter_start:.1f} s (profile={profile}, seed={seed})")

# %% [markdown]
# ## What we saw
#
# - Eq. 1 in srlib is four small, tested functions: `blur`, `imresize`, `add_gaussian_noise`, `quantize`, and
#   `degrade` composes them exactly.
# - Blur removes high frequencies before the downsampler discards them; noise adds a flat spectral floor that an SR
#   network must not mistake for texture.
# - srlib's `imresize` reproduces MATLAB, down to the MATLAB-generated LR files (`tests/test_imresize.py`).
#   {glue:text}`ch1_sigma0`
# - The blurred Bicubic columns of DASR Table 2 do not follow from the protocol the paper states; the variant sweep
#   above shows which protocols come closest, and the book keeps the stated protocol.
# - Real-minus-bicubic residuals are Laplacian-like, which is the starting point of USR-DU (Chapter 5).

# %% [markdown]
# ## Exercises
#
# Each exercise has a solution, hidden until you open it. Those with a code cell end in a check (an `assert`) that fails
# on a wrong answer: run them at `tiny` as they are, or replace the code between `### BEGIN SOLUTION` and `### END
# SOLUTION` with your own. `make assignments` writes this chapter without the solutions (see the instructor page).

# %% [markdown]
# ```{exercise} Border rules, measured
# :label: ch1-border
#
# MATLAB's `imresize` mirrors the image at its border; the official DASR code clamps to the edge pixel. Degrade a
# built-in photograph with σ = 1.2 at ×2, ×3 and ×4 under `border="symmetric"` and `border="replicate"`. How many LR
# values differ, and how far from the image edge can a difference be? In the code cell, your answer defines `counts`:
# the checks below it read it.
# ```

# %% [markdown]
# ```{solution-start} ch1-border
# :class: dropdown
# ```
#
# Only the outermost one or two LR pixels change. The antialiased bicubic kernel of a 1/s downscaling spans 4s HR
# pixels, that is about two LR pixels, so only taps within that distance of the edge ever read outside the image, and
# only those can depend on the border rule.

# %%
import torch
from srlib.data import builtin_images, modcrop
from srlib.degradations import DegradationSpec, degrade

### BEGIN SOLUTION
_, hr = builtin_images("test")[0]
counts = {}
for s in (2, 3, 4):
    x = modcrop(hr, s)[None]
    k = DegradationSpec(s, sigma=1.2).kernel()
    diff = degrade(x, k, s, border="symmetric") != degrade(x, k, s, border="replicate")
    h, w = diff.shape[-2:]
    i, j = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    to_border = torch.minimum(torch.minimum(i, h - 1 - i), torch.minimum(j, w - 1 - j))  # 0 on the edge
    depth = int(to_border[diff.any(dim=(0, 1))].max()) + 1
    counts[s] = (int(diff.sum()), depth)
    print(f"x{s}: {int(diff.sum())} LR values differ, all within {depth} pixel{'s' * (depth > 1)} of the border")
### END SOLUTION
assert all(n > 0 for n, _ in counts.values()), "the two border rules should disagree somewhere"
assert all(d <= 3 for _, d in counts.values()), "the rules may only disagree near the border"

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} What σ means
# :label: ch1-width
#
# `DegradationSpec(4, sigma=2.4).kernel()` is a 21×21 array. Measure its standard deviation along one axis from its
# second moment. Is it σ? How much of the Gaussian does the 21×21 window cut off? In the code cell, your answer defines
# `std_x`, `k`: the checks below it read them.
# ```

# %% [markdown]
# ```{solution-start} ch1-width
# :class: dropdown
# ```
#
# The kernel sums to one and its standard deviation is σ: the window reaches ±10 pixels, more than four standard
# deviations at σ = 2.4, so the truncation removes a negligible part of the mass. At σ = 4, the largest width DASR
# trains on, the window is still ±2.5σ.

# %%
import torch
from srlib.degradations import DegradationSpec

### BEGIN SOLUTION
k = DegradationSpec(4, sigma=2.4).kernel().double()
r = torch.arange(k.shape[-1], dtype=torch.float64) - (k.shape[-1] - 1) / 2
mean_x = (k.sum(0) * r).sum()
std_x = ((k.sum(0) * (r - mean_x) ** 2).sum()).sqrt()
print(f"kernel {tuple(k.shape)}, sum {float(k.sum()):.6f}, centre {float(mean_x):+.3f}, std {float(std_x):.3f}")
### END SOLUTION
assert abs(float(k.sum()) - 1) < 1e-6
assert abs(float(std_x) - 2.4) < 0.05 * 2.4, "the standard deviation of the kernel should be sigma"

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Poisson noise
# :label: ch1-poisson
#
# Replace the Gaussian noise of §1.3 by Poisson (shot) noise with the same mean variance. How does the radial power
# spectrum of the noisy LR change?
# ```

# %% [markdown]
# ```{solution} ch1-poisson
# :class: dropdown
#
# It barely changes. Poisson noise is still independent from pixel to pixel, so its power spectrum is flat (white), at a
# level set by its mean variance, which you matched. What changes is *where* the noise is: its variance grows with
# brightness, so bright regions get noisier and dark regions cleaner. That is a property in space, not in frequency, and
# a radial spectrum averages it away. Plot the noise standard deviation against brightness instead to see the
# difference.
# ```

# %% [markdown]
# ```{exercise} A smaller kernel window
# :label: ch1-size
#
# Add a variant to the sweep of the *Paper vs. code* section in which the kernel window is 15×15 instead of 21×21.
# Before you run it: could it explain why the paper's blurred Bicubic columns are *lower* than the stated protocol
# gives?
# ```

# %% [markdown]
# ```{solution} ch1-size
# :class: dropdown
#
# No, and you can tell before running it. A 15×15 window reaches ±7 pixels, which cuts the tails of the wide kernels
# (±1.9σ at σ = 3.6). Renormalised, the truncated kernel is *narrower*, so the LR images are less blurred and bicubic
# scores *higher*, moving away from the paper's lower numbers. A variant can only explain the gap if it makes the
# degradation harder, for example more blur or a different downsampler.
# ```
