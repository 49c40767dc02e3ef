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
# # 7. Evaluation
#
# The chapters so far scored each model in passing. This one is about the scoring itself: what a PSNR in a paper's
# table depends on, how the two papers' main comparison tables are laid out, what to do when there is no ground
# truth, and what each method costs to run. It trains nothing; it measures the zoo's checkpoints (`srlib weights
# list`) and bicubic upsampling, and prints the papers' numbers beside them.
#
# **In this chapter you will**
#
# - measure how far apart two honest evaluations of the *same* bicubic output can be;
# - fill DASR's Table 2 and Table 3 layouts, with per-image spread and a bootstrap confidence interval on the gain;
# - fill USR-DU's Table 2 layout on stand-ins for NTIRE 2020 Track 1 (paired) and Track 2 (no ground truth);
# - compare methods on images without ground truth, by eye and by NIQE;
# - measure time and memory per image.

# %%
import itertools
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

import srlib.env
import srlib.show
from IPython.display import Markdown, display
from myst_nb import glue

srlib.env.report()
srlib.show.book_style()  # readable text in figures scaled to the page
_chapter_start = time.perf_counter()

def say(key: str, text: str) -> None:
    """Store a result sentence, built from the numbers printed next to it, for the prose to paste (myst-nb glue)."""
    glue(key, Markdown(text), display=False)

def dB(x: float) -> str:
    """'+1.23' / '−0.45' with a typographic minus."""
    return f"{x:+.2f}".replace("-", "−")

# %% tags=["parameters"]
profile = "tiny"      # "tiny": Set5 and Set14, a few minutes. "paper": also B100 and Urban100 when found
seed = 0              # noise seeds, the stand-in cameras and the bootstrap
threads = 1           # torch CPU threads
n_boot = 2000         # bootstrap resamples for the confidence intervals
table3_images = 0     # DASR Table 3 layout: 0 for all 14 Set14 images as in the paper, N for the first N only
real_images = 4       # NTIRE 2020 and RealSR, when present: the first N images of each set, 0 for all

# %%
from srlib import zoo
from srlib.config import BOOK_PROFILES, check_profile
from srlib.evaluate import ImageFiles, hr_files, load_hr_images

check_profile(profile, BOOK_PROFILES)
torch.set_num_threads(threads)
device = "cuda" if torch.cuda.is_available() else "cpu"
DATA = srlib.env.data_root()
DASR_SMALL, DASR_AUTHORS = "dasr-small-x4-model4", "dasr-official-x{}-iso"
USRDU_INIT, USRDU_SRN = "usrdu-small-psnr-init", "usrdu-small-srn-s5"

ALL_SETS = ("Set5", "Set14", "B100", "Urban100")
wanted = ALL_SETS[:2] if profile == "tiny" else ALL_SETS
sets = {}
for name in ALL_SETS:
    if DATA is not None:
        try:
            files = ImageFiles(hr_files(DATA, name))  # read one image at a time: Urban100 is 1.3 GB as floats
        except FileNotFoundError:
            continue
        if name in wanted:
            sets[name] = files
        else:
            print(f"{name} is here too ({len(files)} images); profile='paper' adds it to the tables.")
if not sets:
    sets["built-in"] = load_hr_images(None, "builtin")
have_small = zoo.is_available(DASR_SMALL)
print(f"profile={profile}, seed={seed}, device={device}; sets: "
      + ", ".join(f"{k} ({len(v)} images)" for k, v in sets.items()) + f"; benchmark data: {DATA or 'none'}")

# %% [markdown]
# ## 7.1 How SR is scored, measured
#
# A PSNR in a table is the result of a chain of choices: which channel (the Y of MATLAB's `rgb2ycbcr` for DASR, RGB
# for USR-DU), how many border pixels are cut, whether the SR output is rounded to 8 bits first, how grey images are
# handled, how the downsampler treats the image border, and which noise was drawn. Papers state some of these and
# inherit the rest from their evaluation script.
#
# Below, one fixed output (bicubic upsampling of ×4 LR images made with a σ = 1.2 Gaussian) is scored under a
# reference protocol (Y, 4-pixel crop, 8-bit SR, grey images scored on their grey values, MATLAB's symmetric border,
# no noise) and then with one choice changed at a time. Two of the changed rows are what the official DASR test code
# does: it replicates grey images to RGB before taking Y, and its downsampler clamps taps at the border.

# %%
from srlib import metrics
from srlib.data import modcrop
from srlib.degradations import DegradationSpec, degrade
from srlib.degradations.noise import quantize
from srlib.evaluate import bicubic_upscaler

SCALE, SIGMA = 4, 1.2
bic = bicubic_upscaler(SCALE)
kernel = DegradationSpec(SCALE, sigma=SIGMA).kernel()

def bicubic_psnr(hr, *, y=True, crop=SCALE, round_sr=True, grey_as_rgb=False, border="symmetric", noise=0.0,
                 noise_seed=0):
    """Y/RGB PSNR of bicubic SR of one HR image under the given choices (everything else as the reference)."""
    hr = modcrop(hr, SCALE)[None]
    lr = degrade(hr, kernel, SCALE, noise=noise, generator=torch.Generator().manual_seed(noise_seed), border=border)
    sr = bic(lr)
    if round_sr:
        sr = quantize(sr)
    if grey_as_rgb and hr.shape[1] == 1:
        hr, sr = hr.expand(-1, 3, -1, -1), sr.expand(-1, 3, -1, -1)
    return float(metrics.psnr(sr, hr, crop=crop, y_channel=y, quantize=round_sr)[0])

score_sets = {k: v for k, v in sets.items() if k in ALL_SETS[:2]} or sets  # B100 and Urban100 add time, not insight
choices = {
    "reference (Y, crop 4, 8-bit SR, grey as grey, symmetric border)": {},
    "RGB instead of Y": dict(y=False),
    "no border crop": dict(crop=0),
    "SR not rounded to 8 bits": dict(round_sr=False),
    "grey images replicated to RGB, then Y (DASR code)": dict(grey_as_rgb=True),
    "replicate border in the downsampler (DASR code)": dict(border="replicate"),
}
t0 = time.perf_counter()
rows = {}
for label, kw in choices.items():
    rows[label] = {s: np.mean([bicubic_psnr(hr, **kw) for _, hr in imgs]) for s, imgs in score_sets.items()}
noisy = {s: [np.mean([bicubic_psnr(hr, noise=10, noise_seed=1000 * k + i) for i, (_, hr) in enumerate(imgs)])
             for k in range(5)] for s, imgs in score_sets.items()}
greys = {s: [n for n, hr in imgs if hr.shape[0] == 1] for s, imgs in score_sets.items()}
ref = rows[next(iter(choices))]
scoring = pd.DataFrame({label: {s: f"{v[s]:.2f}" if label.startswith("reference") else dB(v[s] - ref[s])
                                for s in score_sets}
                        for label, v in rows.items()}).T
scoring.loc["noise σ = 10: spread over 5 noise seeds (max − min)"] = [
    f"{max(noisy[s]) - min(noisy[s]):.2f}" for s in score_sets]
print(f"bicubic x{SCALE}, σ = {SIGMA}: reference Y PSNR (dB) and the change each choice makes; "
      f"grey images: {greys}; {time.perf_counter() - t0:.0f} s")
scoring

# %%
deltas = {label: [v[s] - ref[s] for s in score_sets] for label, v in rows.items()
          if not label.startswith("reference")}
fig, ax = plt.subplots(figsize=(7.5, 2.8))
ypos = np.arange(len(deltas))
for j, s in enumerate(score_sets):
    ax.barh(ypos + 0.38 * j - 0.19 * (len(score_sets) - 1), [d[j] for d in deltas.values()], height=0.36, label=s)
ax.set_yticks(ypos, list(deltas))
ax.axvline(0, color="k", lw=0.8)
ax.set_xlabel("change in PSNR against the reference protocol (dB)")
ax.legend()
plt.tight_layout()
plt.show()

biggest = max(deltas, key=lambda k: max(abs(x) for x in deltas[k]))
first = next(iter(score_sets))
grey_label = "grey images replicated to RGB, then Y (DASR code)"
grey_sets = [s for s, g in greys.items() if g]
say("ch07_scoring", f"The largest single choice here is *{biggest}*: it moves the {first} score by "
    f"{dB(deltas[biggest][0])} dB, for the same bicubic images. With noise σ = 10, redrawing the noise alone moves "
    f"the {first} mean by up to {max(noisy[first]) - min(noisy[first]):.2f} dB. "
    + (f"Replicating grey images to RGB before taking Y moves only the sets that hold one ("
       + ", ".join(f"{s}: {', '.join(greys[s])}, {dB(rows[grey_label][s] - ref[s])} dB on the set mean"
                   for s in grey_sets)
       + "): Y maps grey levels into 16-235, a 219/255 range, so the same error is smaller in Y."
       if grey_sets else "None of these sets holds a grey image."))

# %% [markdown]
# {glue:md}`ch07_scoring`
#
# Differences of this size are as large as many of the gains in the papers' tables, so a number is only comparable to
# another made the same way. srlib fixes each choice in one place (`srlib.evaluate`) and the chapters print the
# protocol beside every table.

# %% [markdown]
# ## 7.2 DASR Table 2: isotropic kernels at ×2, ×3 and ×4
#
# Rows: bicubic, the best DASR this machine has, and the paper. The project's `small` DASR is a ×4 model, so it fills
# the ×4 rows. The authors' released weights (`srlib weights get dasr-official-x2-iso`, ...) fill every scale when
# they are present and a GPU is available (the full-size network takes minutes per set on a CPU). Y PSNR, `scale`
# pixels cropped, noise-free.

# %%
from srlib.evaluate import evaluate_images
from srlib.models import load_upscaler
from srlib.published import DASR_TABLE2

t0 = time.perf_counter()
models = {}
for s in (2, 3, 4):
    if zoo.is_available(DASR_AUTHORS.format(s)) and device == "cuda":  # the full-size model is slow on a CPU
        models[s] = ("DASR (authors)", load_upscaler(f"zoo:{DASR_AUTHORS.format(s)}", device))
    elif s == 4 and have_small:
        models[s] = ("DASR small (zoo)", load_upscaler(f"zoo:{DASR_SMALL}", device))
per_image = {}  # (scale, width, set) -> {"bicubic": [...], "DASR": [...]}
t2 = {}
for s in (2, 3, 4):
    for w in DASR_TABLE2[s]["widths"]:
        spec = DegradationSpec(s, sigma=w)
        for set_name, imgs in sets.items():
            cell = {"bicubic": [r["psnr"] for r in evaluate_images(bicubic_upscaler(s), imgs, s, spec,
                                                                    with_ssim=False)["per_image"]]}
            if s in models:
                cell["DASR"] = [r["psnr"] for r in evaluate_images(models[s][1], imgs, s, spec,
                                                                   with_ssim=False)["per_image"]]
            per_image[s, w, set_name] = cell
            for m, v in cell.items():
                t2.setdefault((set_name, f"x{s}"), {}).setdefault(m, []).append(np.mean(v))
print(f"{sum(len(c) * len(c['bicubic']) for c in per_image.values())} SR images scored in "
      f"{time.perf_counter() - t0:.0f} s; models: " + (", ".join(f"x{s}: {m[0]}" for s, m in models.items()) or "none"))

paper2 = DASR_TABLE2
table = {}
for (set_name, sc), cols in t2.items():
    s = int(sc[1:])
    ws = paper2[s]["widths"]
    table[(set_name, sc, "bicubic")] = [f"{v:.2f}" for v in cols["bicubic"]]
    if "DASR" in cols:
        table[(set_name, sc, models[s][0])] = [f"{v:.2f}" for v in cols["DASR"]]
    if set_name in paper2[s]["rows"]["DASR"]:
        table[(set_name, sc, "paper: bicubic")] = [f"{v:.2f}" for v in paper2[s]["rows"]["Bicubic"][set_name]]
        table[(set_name, sc, "paper: DASR")] = [f"{v:.2f}" for v in paper2[s]["rows"]["DASR"][set_name]]
table2 = pd.DataFrame(table, index=["width 1", "width 2", "width 3", "width 4"]).T
table2.insert(0, "widths σ", [", ".join(f"{w:g}" for w in paper2[int(k[1][1:])]["widths"]) for k in table2.index])
print(f"Y PSNR (dB); ours: seed {seed}; paper: DASR Table 2")
table2

# %% [markdown]
# A table cell is a mean over a handful of images, and the images differ far more from each other than the methods
# do. The honest comparison is *paired*: the gain of DASR over bicubic on each image, and a bootstrap over images for
# how much that mean gain could move with another draw of test images (95 % interval, {glue:text}`ch07_nboot`
# resamples).

# %%
glue("ch07_nboot", f"{n_boot:,}", display=False)
rng = np.random.default_rng(seed)

def boot_ci(gains: np.ndarray) -> tuple:
    """Mean of ``gains`` and the 2.5 / 97.5 percentiles of the mean over ``n_boot`` resamples of the images."""
    idx = rng.integers(0, len(gains), size=(n_boot, len(gains)))
    means = gains[idx].mean(axis=1)
    return float(gains.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))

ci_rows = {}
for (s, w, set_name), cell in per_image.items():
    if "DASR" in cell:
        g = np.array(cell["DASR"]) - np.array(cell["bicubic"])
        m, lo, hi = boot_ci(g)
        ci_rows[(set_name, f"x{s}", f"σ={w:g}")] = {"mean gain (dB)": f"{m:+.2f}", "95 % CI": f"[{lo:+.2f}, {hi:+.2f}]",
                                                    "images better": f"{int((g > 0).sum())}/{len(g)}",
                                                    "worst image": f"{g.min():+.2f}", "best image": f"{g.max():+.2f}"}
if ci_rows:
    ci = pd.DataFrame(ci_rows).T
    x4 = [(k, v) for k, v in per_image.items() if k[0] == 4 and "DASR" in v]
    fig, axes = plt.subplots(1, len(sets), figsize=(4.2 * len(sets), 3.0), squeeze=False, sharey=True)
    for ax, set_name in zip(axes[0], sets):
        cells = [(k[1], np.array(v["DASR"]) - np.array(v["bicubic"])) for k, v in x4 if k[2] == set_name]
        ax.boxplot([g for _, g in cells], tick_labels=[f"{w:g}" for w, _ in cells])
        for j, (_, g) in enumerate(cells):
            ax.plot(np.full(len(g), j + 1.0) + rng.uniform(-0.12, 0.12, len(g)), g, ".", alpha=0.6, color="C0")
        ax.axhline(0, color="gray", ls=":")
        ax.set(title=f"{set_name}, x4: per-image gain", xlabel="kernel width σ")
    axes[0][0].set_ylabel("DASR − bicubic (dB)")
    plt.tight_layout()
    plt.show()
    lows = {k: float(v["95 % CI"].split(",")[0][1:]) for k, v in ci_rows.items()}
    worst_cell = min(lows, key=lows.get)
    say("ch07_ci", f"Every ×4 cell's 95 % interval for the mean gain lies above zero: the lowest lower bound is "
        f"{dB(lows[worst_cell])} dB ({', '.join(worst_cell)})." if min(lows.values()) > 0 else
        f"At least one cell's 95 % interval reaches zero or below ({', '.join(worst_cell)}: lower bound "
        f"{dB(lows[worst_cell])} dB), so on that set and width the gain is not established by these images.")
else:
    ci = pd.DataFrame()
    say("ch07_ci", "No DASR checkpoint is present, so there is no gain to bootstrap; `srlib weights list` shows the "
        "entries.")
ci

# %% [markdown]
# {glue:md}`ch07_ci`

# %% [markdown]
# ## 7.3 DASR Table 3: anisotropic kernels and noise
#
# Table 3 of the paper degrades Set14 with nine anisotropic Gaussians (λ1, λ2, θ) at noise levels 0, 5 and 10, at ×4.
# The paper's DASR for this table was trained on anisotropic kernels with noise; the zoo's `small` DASR saw only
# isotropic, noise-free ones. The table therefore measures how it behaves *outside* its training distribution, which
# is the situation of a model meeting a real camera.

# %%
from srlib.degradations import TABLE3_KERNELS
from srlib.published import DASR_TABLE3

t3_sets = {k: v for k, v in sets.items() if k == "Set14"} or sets
t3_name, t3_imgs = next(iter(t3_sets.items()))
t3_imgs = t3_imgs[: table3_images or None]
t0 = time.perf_counter()
t3 = {}
for noise in (0, 5, 10):
    for m, up in [("bicubic", bicubic_upscaler(4))] + ([("DASR small (zoo)", models[4][1])] if 4 in models else []):
        t3[(f"noise {noise}", m)] = [
            evaluate_images(up, t3_imgs, 4, DegradationSpec(4, lambda1=l1, lambda2=l2, theta_deg=th, noise=noise),
                            seed=seed, with_ssim=False)["psnr"] for l1, l2, th in TABLE3_KERNELS]
    if t3_name == "Set14" and len(t3_imgs) == 14:
        t3[(f"noise {noise}", "paper: DASR")] = list(DASR_TABLE3["rows"]["DASR"][noise])
table3 = pd.DataFrame({k: [f"{x:.2f}" for x in v] for k, v in t3.items()},
                      index=[f"({l1:g}, {l2:g}, {th:g}°)" for l1, l2, th in TABLE3_KERNELS]).T
print(f"x4, {t3_name} ({len(t3_imgs)} images), Y PSNR (dB), noise seeds {seed}+i; {time.perf_counter() - t0:.0f} s. "
      + ("" if len(t3_imgs) == 14 and t3_name == "Set14" else
         "The paper's row needs all 14 Set14 images (table3_images = 0); it is left out of a subset."))
table3

# %%
if 4 in models:
    gains = {n: np.array(t3[(f"noise {n}", "DASR small (zoo)")]) - np.array(t3[(f"noise {n}", "bicubic")])
             for n in (0, 5, 10)}
    fig, ax = plt.subplots(figsize=(6.5, 2.8))
    for n, g in gains.items():
        ax.plot(range(1, 10), g, "o-", label=f"noise {n}")
    ax.axhline(0, color="gray", ls=":")
    ax.set(xlabel="Table 3 kernel (1-9)", ylabel="DASR small − bicubic (dB)", xticks=range(1, 10))
    ax.legend()
    plt.tight_layout()
    plt.show()
    say("ch07_t3", f"Without noise the small DASR gains {dB(gains[0].min())} to {dB(gains[0].max())} dB over "
        f"bicubic across the nine kernels; at noise 10 the range is {dB(gains[10].min())} to {dB(gains[10].max())} dB. "
        + ("Noise it never saw costs it more than the kernel shape does." if gains[10].mean() < gains[0].mean() - 0.3
           else "Noise changes its margin over bicubic by less than 0.3 dB on average."))
else:
    say("ch07_t3", "No DASR checkpoint is present; the table holds bicubic only.")

# %% [markdown]
# {glue:md}`ch07_t3`

# %% [markdown]
# ## 7.4 USR-DU Table 2: NTIRE 2020 Track 1 and Track 2, stand-ins
#
# USR-DU reports NTIRE 2020 Track 1 (a synthetic but unknown camera, with ground truth) by PSNR, SSIM and LPIPS, and
# Track 2 (smartphone photographs, no ground truth) by NIQE alone. Neither data set ships with the book. The stand-ins:
#
# - **Track 1**: the seeded camera of chapter 5 (`RealWorldDegradation`, seed 0: a hidden anisotropic blur,
#   Poisson-Gaussian noise and JPEG) applied to the test HR images: paired data, RGB PSNR and SSIM with a 4-pixel
#   crop, LPIPS when the AlexNet weights are on this machine, and NIQE.
# - **Track 2**: a second camera (seed 1) the DSN never saw. Only its LR images are used: NIQE only.
#
# Rows: bicubic, the zoo's PSNR-oriented initialisation and its situation-5 SRN (chapter 6), and the paper's numbers,
# which are on the real NTIRE data and so are context, not a comparison.

# %%
from srlib.niqe import niqe
from srlib.published import USRDU_TABLE2
from srlib.zoo_eval import standin_pairs

usr_imgs = list(itertools.islice(((n, x) for imgs in sets.values() for n, x in imgs  # the first 8 large enough
                                   if min(x.shape[-2:]) >= 2 * 96 + 8), 8))
track1 = standin_pairs(usr_imgs, 4, seed=0)
track2 = standin_pairs(usr_imgs, 4, seed=1)
usr_models = {"bicubic": bicubic_upscaler(4)}
for label, name in (("PSNR init (zoo)", USRDU_INIT), ("SRN situation 5 (zoo)", USRDU_SRN)):
    if zoo.is_available(name):
        usr_models[label] = load_upscaler(f"zoo:{name}", device)
t0 = time.perf_counter()
from srlib.evaluate import evaluate_pairs

usr = {}
for label, up in usr_models.items():
    r1 = evaluate_pairs(up, track1, niqe=True)
    with torch.no_grad():
        n2 = [niqe(up(lr[None])[0].clamp(0, 1), crop=4) for _, lr, _ in track2]
    usr[label] = {"Track 1 PSNR": f"{r1['psnr']:.2f}", "Track 1 SSIM": f"{r1['ssim']:.4f}",
                  "Track 1 LPIPS": r1["lpips"] if isinstance(r1["lpips"], str) else f"{r1['lpips']:.4f}",
                  "Track 1 NIQE": f"{r1['niqe']:.2f}", "Track 2 NIQE": f"{np.mean(n2):.2f}",
                  "_p": r1["psnr"], "_n1": r1["niqe"], "_n2": float(np.mean(n2))}
hr_niqe = float(np.mean([niqe(hr, crop=4) for _, _, hr in track1]))
usr["HR images (reference)"] = {"Track 1 NIQE": f"{hr_niqe:.2f}"}
for m in ("P.T. ESRGAN", "Impressionism", "DeFlow", "USR-DU"):
    p = USRDU_TABLE2[m]
    usr[f"paper: {m}"] = {"Track 1 PSNR": f"{p[0]:.2f}", "Track 1 SSIM": f"{p[1]:.4f}", "Track 1 LPIPS": f"{p[2]:.4f}",
                          "Track 2 NIQE": "–" if p[3] is None else f"{p[3]:.4f}"}
usr_table = pd.DataFrame(usr).T.drop(columns=["_p", "_n1", "_n2"]).fillna("")
print(f"{len(track1)} images ({', '.join(n for n, _ in usr_imgs)}), x4; ours: cameras seeded 0 (Track 1) and 1 "
      f"(Track 2); NIQE lower is better; {time.perf_counter() - t0:.0f} s")
usr_table

# %%
ours = {k: v for k, v in usr.items() if "_p" in v}
b = ours["bicubic"]
parts = [f"{k} {dB(v['_p'] - b['_p'])} dB PSNR against bicubic, NIQE {v['_n1']:.2f} vs {b['_n1']:.2f} on Track 1 "
         f"and {v['_n2']:.2f} vs {b['_n2']:.2f} on Track 2" for k, v in ours.items() if k != "bicubic"]
say("ch07_usrdu", ("On the stand-ins: " + "; ".join(parts) + f". The HR images themselves score NIQE {hr_niqe:.2f}."
                   if parts else "No USR-DU checkpoint is present; only bicubic is scored."))

# %% [markdown]
# {glue:md}`ch07_usrdu`
#
# NIQE measures how far an image's local statistics are from a model of pristine photographs; it needs no reference,
# which is why Track 2 uses it, and it does not know what the image *should* show. An output can gain in NIQE by
# adding texture that is not in the scene. Read it beside PSNR where ground truth exists, and beside the pictures
# where it does not.

# %% [markdown]
# ### The real data sets, when they are here
#
# The stand-ins above are what every reader can run. A reader who fetched the real sets (`srlib data
# NTIRE2020_Track1`, `NTIRE2020_Track2` and `RealSR_V3` say where from; they need a registration or a drive link)
# and put them under `SRLIB_DATA` or `data/` gets the same rows on them below: NTIRE 2020 Track 1 validation pairs
# (USR-DU Table 2), Track 2 validation images by NIQE, and RealSR version 3 test pairs at ×4 (USR-DU Table 3, which
# also has a DASR row).

# %%
from srlib.data.realsets import find_real_sets, score_real_set
from srlib.published import USRDU_TABLE3

real_sets = find_real_sets()
real_tables = {}
t0 = time.perf_counter()
for set_name, pairs in real_sets.items():
    pairs = pairs[: real_images or None]
    ups = dict(usr_models)
    if set_name.startswith("RealSR") and 4 in models:
        ups["DASR small (zoo)"] = models[4][1]
    rows = {k: {m: (v if isinstance(v, str) else f"{v:.4f}" if m in ("SSIM", "LPIPS") else f"{v:.2f}")
                for m, v in r.items()} for k, r in score_real_set(ups, pairs).items()}
    paper = (USRDU_TABLE3 if set_name.startswith("RealSR") else USRDU_TABLE2)
    for m in (("P.T. ESRGAN", "DASR", "USR-DU") if set_name.startswith("RealSR") else
              ("P.T. ESRGAN", "Impressionism", "DeFlow", "USR-DU")):
        p = paper[m]
        rows[f"paper: {m}"] = ({"NIQE": "–" if p[3] is None else f"{p[3]:.4f}"} if not pairs.paired else
                               {"PSNR": f"{p[0]:.2f}", "SSIM": f"{p[1]:.4f}", "LPIPS": f"{p[2]:.4f}"})
    real_tables[set_name] = pd.DataFrame(rows).T.fillna("")
    print(f"{set_name}: {len(pairs)} of {len(real_sets[set_name])} images "
          f"({'all' if len(pairs) == len(real_sets[set_name]) else 'real_images = 0 scores all'}), x4, RGB, crop 4")
    display(real_tables[set_name])
if not real_sets:
    print("No NTIRE 2020 or RealSR folder under $SRLIB_DATA or data/, so only the stand-ins are scored "
          "(`srlib data NTIRE2020_Track1` says how to get the real ones).")
else:
    print(f"{time.perf_counter() - t0:.0f} s")

# %% [markdown]
# ## 7.5 Real LR without ground truth
#
# The Track 2 stand-in has no HR to compare with, as a phone photograph would not. The grid shows the same crop from
# each method, with the NIQE of the whole SR image in its corner.

# %%
grid_models = dict(usr_models)
if 4 in models:
    grid_models["DASR small (zoo)"] = models[4][1]
shown = track2[:2]
fig, axes = plt.subplots(len(shown), len(grid_models), figsize=(2.6 * len(grid_models), 2.9 * len(shown)),
                         squeeze=False)
for i, (name, lr, _) in enumerate(shown):
    for j, (label, up) in enumerate(grid_models.items()):
        with torch.no_grad():
            sr = up(lr[None])[0].clamp(0, 1)
        h, w = sr.shape[-2:]
        crop = sr[:, h // 2 - 64: h // 2 + 64, w // 2 - 64: w // 2 + 64]
        axes[i][j].imshow(crop.permute(1, 2, 0).numpy())
        if i == 0:
            axes[i][j].set_title(label, fontsize=10)
        axes[i][j].text(0.03, 0.04, f"NIQE {niqe(sr, crop=4):.2f}", transform=axes[i][j].transAxes, fontsize=10,
                        bbox=dict(facecolor="white", alpha=0.8, edgecolor="none", pad=1.5))
        axes[i][j].set_xticks([])
        axes[i][j].set_yticks([])
    axes[i][0].set_ylabel(name, fontsize=10)
fig.suptitle("second camera (seed 1), x4, centre 128x128 of the SR; NIQE of the whole SR image", fontsize=11)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 7.6 Cost
#
# Time and the memory the forward pass adds, for one 128×128 LR image to 512×512, each method in a fresh process
# (`srlib.cost.inference_cost`), one thread, median of three runs after a warm-up. The machine is named below; on a
# shared CPU the times move with the load, so compare them within this table only.

# %%
from srlib.cost import inference_cost

t0 = time.perf_counter()
cost_methods = ["bicubic"] + [f"zoo:{n}" for n in (DASR_SMALL, USRDU_SRN) if zoo.is_available(n)]
cost = {m: inference_cost(m, size=128, threads=threads, device=device) for m in cost_methods}
if device == "cuda":
    machine = torch.cuda.get_device_name(0)
else:
    import platform

    try:
        with open("/proc/cpuinfo") as f:
            machine = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        machine = platform.processor() or "unknown CPU"
    machine += f", {__import__('os').cpu_count()} logical CPUs"
cost_table = pd.DataFrame({m: {"seconds per image": f"{c['seconds']:.3f}",
                               "added peak memory (MiB)": "n/a" if c["peak_mib"] is None else f"{c['peak_mib']:.0f}"}
                           for m, c in cost.items()}).T
print(f"device: {device} ({machine}); {time.perf_counter() - t0:.0f} s")
cost_table

# %%
fastest = min(cost, key=lambda m: cost[m]["seconds"])
slowest = max(cost, key=lambda m: cost[m]["seconds"])
say("ch07_cost", f"On this machine {slowest} takes {cost[slowest]['seconds'] / cost[fastest]['seconds']:.0f}× as long "
    f"as {fastest} per image ({cost[slowest]['seconds']:.2f} s against {cost[fastest]['seconds']:.3f} s).")
print(f"chapter time: {time.perf_counter() - _chapter_start:.0f} s")

# %% [markdown]
# {glue:md}`ch07_cost`
#
# ## What we saw
#
# - {glue:md}`ch07_scoring`
# - On DASR's Table 2 layout: {glue:md}`ch07_ci`
# - On Table 3's anisotropic, noisy kernels: {glue:md}`ch07_t3`
# - On the USR-DU stand-ins: {glue:md}`ch07_usrdu`
# - {glue:md}`ch07_cost`

# %% [markdown]
# ## Exercises
#
# Each exercise has a solution, hidden until you open it. Those with a code cell end in a check (an `assert`) that fails
# on a wrong answer: run them at `tiny` as they are, or replace the code between `### BEGIN SOLUTION` and `### END
# SOLUTION` with your own. `make assignments` writes this chapter without the solutions (see the instructor page).

# %% [markdown]
# ```{exercise} Fewer images, wider intervals
# :label: ch7-bootstrap
#
# Bootstrap the mean gain of 14 per-image gains, then of 5 of them. How much wider is the 95 % interval? Does the
# particular subset matter? In the code cell, your answer defines `w5`, `w14`, `w_first5`: the checks below it read
# them.
# ```

# %% [markdown]
# ```{solution-start} ch7-bootstrap
# :class: dropdown
# ```
#
# The interval of a mean narrows roughly like $1/\sqrt n$, so 5 images instead of 14 should widen it by about
# $\sqrt{14/5} \approx 1.7$. The bootstrap widens it less, as the printed ratio shows: resampling n values spreads
# the mean by a factor $\sqrt{(n-1)/n}$ of the true standard error, which shrinks the interval of 5 images more than
# that of 14. A particular subset can even be narrower, as the first five are here: with five images the interval's own
# width is noisy. That is the argument for reporting intervals on the whole set.

# %%
import numpy as np

rng = np.random.default_rng(0)
gains14 = rng.normal(1.0, 0.6, 14)  # per-image PSNR gains (dB) of some method over bicubic on 14 images
### BEGIN SOLUTION
def ci_width(g, n_boot=2000, seed=0):
    r = np.random.default_rng(seed)
    means = g[r.integers(0, len(g), size=(n_boot, len(g)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return hi - lo

w14 = ci_width(gains14)
w_first5 = ci_width(gains14[:5])
w5 = np.mean([ci_width(rng.choice(gains14, 5, replace=False), seed=i) for i in range(200)])  # typical 5-subset
### END SOLUTION
print(f"95 % interval width: 14 images {w14:.3f} dB; the first 5 {w_first5:.3f} dB; a typical 5 {w5:.3f} dB, "
      f"ratio {w5 / w14:.2f} (sqrt(14/5) = {np.sqrt(14 / 5):.2f})")
assert 1.3 < w5 / w14 < 2.1, "on average the width grows roughly like 1/sqrt(n)"

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} What NIQE punishes
# :label: ch7-niqe
#
# Blur a built-in photograph with σ = 1, 2, 3, and separately add Gaussian noise of 5, 10 and 20 gray levels. Compute
# NIQE for each. In the code cell, your answer defines `blurred`, `noisy`: the checks below it read them.
# ```

# %% [markdown]
# ```{solution-start} ch7-niqe
# :class: dropdown
# ```
#
# Both raise NIQE steadily: blur removes the local contrast whose statistics the pristine model expects, and noise adds
# contrast with the wrong statistics. Which one NIQE punishes more depends on the levels you compare; at the levels here
# the curves overlap, which is why NIQE alone cannot tell a blurry output from a noisy one.

# %%
import torch

from srlib.data import builtin_images
from srlib.degradations import DegradationSpec
from srlib.niqe import niqe

_, hr = builtin_images("test")[0]
g = torch.Generator().manual_seed(0)
### BEGIN SOLUTION
import torch.nn.functional as F

def blur(x, sigma):
    k = DegradationSpec(1, sigma=sigma).kernel()
    pad = k.shape[-1] // 2
    xp = F.pad(x[None], (pad,) * 4, mode="reflect")
    return F.conv2d(xp, k.expand(3, 1, -1, -1).to(x.dtype), groups=3)[0]

blurred = {s: niqe(blur(hr, s)) for s in (1, 2, 3)}
noisy = {n: niqe((hr + n / 255 * torch.randn(hr.shape, generator=g)).clamp(0, 1)) for n in (5, 10, 20)}
### END SOLUTION
print("blur σ:", {k: round(v, 2) for k, v in blurred.items()}, " noise:", {k: round(v, 2) for k, v in noisy.items()},
      f" clean: {niqe(hr):.2f}")
assert list(blurred.values()) == sorted(blurred.values()), "more blur, higher NIQE"
assert list(noisy.values()) == sorted(noisy.values()), "more noise, higher NIQE"

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Y or RGB?
# :label: ch7-rgb
#
# Score the Table 2 cells with `y_channel=False`. Does the ranking of bicubic and DASR change, or only the level?
# ```

# %% [markdown]
# ```{solution} ch7-rgb
# :class: dropdown
#
# The level drops: RGB PSNR includes the colour channels' errors and does not compress the range to 16-235 as Y does
# (7.1 measures the change). The ranking is likely to stay, because both methods are scored the same way and DASR's gain
# is mostly in luminance detail. It can change where a method makes colour errors that Y hides, so check the per-image
# pairs, not only the means.
# ```

# %% [markdown]
# ```{exercise} Against the paper's Table 3
# :label: ch7-table3
#
# The Table 3 layout of 7.3 puts the paper's DASR row beside the small DASR on all 14 Set14 images. Where is the gap
# to the paper largest, across kernels and noise levels, and what in the two models' training explains it?
# ```

# %% [markdown]
# ```{solution} ch7-table3
# :class: dropdown
#
# The paper's Table 3 model is the full-size DASR trained on anisotropic kernels *with* noise; the zoo's small DASR is
# a far smaller network trained on isotropic, noise-free kernels only. Two gaps therefore add up: size and schedule
# (present in every cell, as in Table 2) and the training distribution. The second should grow with the noise level,
# which the small model has never seen, and with how elongated the kernel is. Read it off the table: compare the gap
# at noise 0 with the gap at noise 10, kernel by kernel, and check it against 7.3's sentence on the small model's
# margin over bicubic. A gap that is the same in every cell would point to size and schedule alone.
# ```

# %% [markdown]
# ## Paper vs. code
#
# :::{admonition} Where the authors' code departs from the paper
# :class: important
#
# - **Y PSNR.** DASR's test code computes PSNR on the Y channel with `scale` pixels cropped, on outputs rounded to
#   8 bits; USR-DU (through BasicSR) reports RGB PSNR with a 4-pixel crop. Section 7.1 measures what each choice moves.
# - **Border rule and grey images.** The DASR test code's bicubic downsampler clamps out-of-range taps to the edge,
#   where MATLAB's `imresize` mirrors them, and it replicates grey images to RGB before taking Y. srlib follows MATLAB
#   and scores grey images on their grey values; `border="replicate"` selects the code's downsampler, and 7.1
#   measures both rules.
# - **Table 3 kernels.** The paper gives the nine anisotropic kernels only as a picture; srlib uses the (λ1, λ2, θ)
#   list a third-party repository transcribed (see `srlib.degradations.TABLE3_KERNELS`), not verified against it.
# - **NIQE.** BasicSR's `calculate_niqe(..., convert_to='y')` rounds the Y channel and evaluates 96×96 blocks at two
#   scales; `srlib.niqe` follows it and matches MATLAB's value on the reference image to 1e-3 (`tests/test_niqe.py`).
# :::
