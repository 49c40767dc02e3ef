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
# # 5. Learning degradation uncertainty
#
# Unsupervised real-world SR has HR photographs and *unpaired* real LR photographs, never the two views of one scene.
# The usual recipe first learns a downsampling network (DSN) that turns an HR image into a realistic LR image, then
# trains an SR network on the synthetic pairs. USR-DU (Ning et al., IJCAI 2022) observes that one HR image does not
# have one real LR version: noise, compression and sensor randomness make the degradation *uncertain*. So its DSN
# predicts a Laplace distribution per pixel: a mean $y_g$ and a scale $\theta$ (plus a scale $\sigma$ for VGG
# features), trained with KL divergences instead of L1 losses (paper Eqs. 2 and 4).
#
# **In this chapter you will**
#
# - see the real-minus-bicubic residual that motivates a Laplace model (paper Fig. 2) on the book's stand-in real data;
# - read the DSN and the KL losses in `srlib.usrdu`, and derive the $\theta$ that the pixel KL prefers;
# - train the DSN at the `tiny` profile, live, to see the loop and its losses;
# - load a DSN trained longer (the `small` profile, from srlib's model zoo) and compare the bicubic LR $y_b$, the
#   learned mean $y_g$ and the real LR;
# - look at the learned uncertainty maps (paper Fig. 6) and measure how $\theta$ follows image structure;
# - draw several LR samples $\hat y = y_g + \epsilon\,\theta$ from one HR image;
# - revisit Fig. 2: does the learned, per-pixel $\theta$ explain real residuals better than one global fit?

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

import srlib.env
import srlib.show
from srlib.show import show_source

srlib.env.report()
srlib.show.book_style()  # readable text in figures scaled to the page
_chapter_start = time.perf_counter()

# %% tags=["parameters"]
profile = "tiny"  # "tiny" (2-core CPU, minutes) or "paper" (published hyper-parameters; needs ImageNet VGG19)
seed = 0  # seeds the DSN initialisation, the patch sampler and every LR sample drawn below
out_dir = "runs/ch05"  # the DSN run (config.json, metrics.jsonl, checkpoints/) goes here
pretrained = True  # True: 5.4-5.7 analyse the zoo's `small` DSN ("usrdu-small-dsn"); False: the DSN trained in 5.3

# %%
from pathlib import Path

from srlib.usrdu.data import load_data
from srlib.usrdu.train_config import DSNTrainConfig

cfg = DSNTrainConfig.for_profile(profile, 5, seed=seed)  # Table 1 situation 5: theta and sigma
hr_train, lr_train, val = load_data(cfg.data, cfg.dsn.scale)
print(f"profile={profile}, seed={seed}, out_dir={out_dir}, pretrained={pretrained}")
print("HR training images:", ", ".join(f"{n} {tuple(x.shape[1:])}" for n, x in hr_train))
print("'real' LR training images (unpaired):", ", ".join(f"{n} {tuple(x.shape[1:])}" for n, x in lr_train))
print("paired validation (HR, real LR):", ", ".join(f"{n} {tuple(h.shape[1:])}->{tuple(l.shape[1:])}"
                                                    for n, l, h in val))

# %% [markdown]
# ## 5.1 The data: an unknown camera
#
# NTIRE 2020 Track 1, the paper's main benchmark, corrupts Flickr2K images with an undisclosed pipeline and asks for
# SR trained *without* pairs. The book cannot ship it, so `srlib.degradations.RealWorldDegradation` plays the unknown
# camera: a hidden anisotropic blur, bicubic x4, signal-dependent noise, 8-bit rounding and JPEG. At `tiny`, the HR
# training images are the first half of the built-in training split, the "real" LR images are the *other* half passed
# through that camera (so no LR image is a view of an HR training image), and validation uses the built-in test split
# with the same camera, as Track 1 does.
#
# Fig. 2 of the paper plots the residual between a real LR image and the bicubic downsampling of its HR image. The
# paired validation set lets us draw it.

# %%
from IPython.display import Markdown
from myst_nb import glue

from srlib.degradations import imresize
from srlib.usrdu.analysis import fit_laplace_gaussian, gaussian_loglik, gap_phrase, laplace_loglik

def say(key: str, text: str) -> None:
    """Store a result sentence, built from the numbers printed next to it, for the prose to paste (myst-nb glue)."""
    glue(key, Markdown(text), display=False)

residual = torch.cat([((lr - imresize(hr[None], 0.25)[0]) * 255).flatten() for _, lr, hr in val])
fit = fit_laplace_gaussian(residual)
print(f"real LR - bicubic LR, {residual.numel()} values, gray levels: "
      f"Laplace b = {fit['laplace_b']:.2f}, Gaussian sigma = {fit['gaussian_sigma']:.2f}")
print(f"mean log-likelihood per value: Laplace {fit['laplace_loglik']:.3f}, Gaussian {fit['gaussian_loglik']:.3f}")

grid = torch.linspace(-40, 40, 401, dtype=torch.float64)
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.hist(residual.clamp(-40, 40).numpy(), bins=161, density=True, color="0.75", label="real - bicubic")
ax.plot(grid, laplace_loglik(grid, fit["laplace_mu"], fit["laplace_b"]).exp(), label="Laplace fit")
ax.plot(grid, gaussian_loglik(grid, fit["gaussian_mu"], fit["gaussian_sigma"]).exp(), "--", label="Gaussian fit")
ax.set(xlabel="residual (gray levels)", ylabel="density", title="Fig. 2 on the stand-in data")
ax.legend()
plt.show()
ll = {"Laplace": fit["laplace_loglik"], "Gaussian": fit["gaussian_loglik"]}
best, other = sorted(ll, key=ll.get, reverse=True)
nums = f"({ll['Laplace']:.3f} for the Laplace, {ll['Gaussian']:.3f} for the Gaussian)"
if round(ll[best], 3) == round(ll[other], 3):
    say("ch05_fig2", f"On the stand-in data the Laplace and the Gaussian fit the real-minus-bicubic residual equally "
        f"well: their mean log-likelihoods per value agree to 3 decimals {nums}.")
else:
    say("ch05_fig2", f"On the stand-in data the {best} fits the real-minus-bicubic residual better: its mean "
        f"log-likelihood per value is {gap_phrase(ll[best], ll[other], unit='', digits=3)} the {other}'s {nums}.")

# %% [markdown]
# {glue:md}`ch05_fig2` The paper's Fig. 2 draws this residual for real Track 1 images.
#
# ## 5.2 The DSN and its losses
#
# The generator follows the official `resnet_uncertainty_per_vgg19.py` layer by layer (and uses its parameter names,
# so the authors' weights load with `srlib.checkpoints.from_official("usrdu-dsn", ...)`): a 3-to-64 conv, 8 residual
# blocks, two stride-2 convs, then three heads on the same LR-resolution features.

# %%
from srlib.usrdu.dsn import DSN, DSNConfig

show_source(DSN.forward)

# %%
for name in ("tiny", "paper"):
    net = DSN(DSNConfig.for_profile(name))
    heads = {h: sum(p.numel() for p in getattr(net, h).parameters()) for h in ("block_output", "var", "per_var")}
    print(f"{name:5s}: {sum(p.numel() for p in net.parameters()):>9,} parameters; heads {heads}")

# %% [markdown]
# Head B outputs $\log\theta$ and head C $\log\sigma$ through an ELU, so $\theta, \sigma \ge 1/e$. Both are measured
# in **gray levels**: the official losses multiply images by 255, compare with a reference Laplace of scale
# $\mathbf I$ = one gray level, and divide by 255 at the end. With that scaling the paper's weights
# $\alpha = 1, 0.01, 0.01$ (Eq. 7) are exactly the official command-line ratios 100 : 1 : 1.

# %%
from srlib.usrdu import losses

show_source(losses.pixel_kl_loss)

# %% [markdown]
# For one pixel with residual $d = |255 y_g - 255 y_b|$, the part of Eq. 2 that depends on $\theta$ is
# $\theta e^{-d/\theta} - \log\theta$. Its derivative vanishes where $e^{-d/\theta}(1 + d/\theta) = 1/\theta$:
# the KL prefers $\theta = 1$ gray level where $y_g = y_b$ and a growing $\theta$ where the generator departs from the
# bicubic image, but not $\theta = d$, which is what a Laplace negative log-likelihood $d/\theta + \log\theta$ would
# give. `kl_optimal_scale` solves the equation; the test suite checks it against `scipy.optimize.brentq` and against
# gradient descent on `pixel_kl_loss` itself.

# %%
d = np.linspace(0, 30, 61)
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(d, [losses.kl_optimal_scale(v) for v in d], label=r"KL (Eq. 2) optimum $\theta^*$")
ax.plot(d, np.maximum(d, 1e-9), "--", label=r"Laplace NLL optimum $\theta = d$")
ax.set(xlabel="residual d (gray levels)", ylabel=r"$\theta$ (gray levels)", ylim=(0, 12))
ax.legend()
plt.show()
print("theta* at d = 0, 2, 10, 30:", [round(losses.kl_optimal_scale(v), 3) for v in (0, 2, 10, 30)])

# %% [markdown]
# ## 5.3 Training the DSN
#
# `srlib.usrdu.train_dsn.train_dsn` keeps the official order: generate once, update the U-Net discriminator on the
# high-passed real LR and the detached $y_g$, then update the generator with
# $\alpha_1 L_{kl} + \alpha_2 L_{kl\text{-}per} + \alpha_3 L_{adv}$. The perceptual KL compares VGG19 `conv5_4`
# features; **ImageNet weights are not on this machine, so the `tiny` profile declares a random He-initialised VGG
# (widths / 8)** and the run prints which VGG it used. The `paper` profile refuses to run without the real weights.
# The run resumes from `out_dir` if it was interrupted, and is skipped if it already finished.
#
# Three names in the loop below serve speed and scale, not the method. `d_net` is the discriminator as the D step
# calls it: itself in one process, wrapped for data-parallel training under `torchrun`. `speed.autocast` is mixed
# precision (`--amp`), off by default. `scaler_d` and `scaler_g` scale the loss for fp16 training; with fp16 off they
# pass the loss and the optimiser step through untouched, so the loop computes exactly `loss.backward()` then
# `opt.step()`.

# %%
from srlib.usrdu.train_dsn import train_dsn

show_source(train_dsn, start="# D step", stop="scaler_g.update()")

# %%
from srlib.runs import RunDir

t0 = time.perf_counter()
train_dsn(cfg, Path(out_dir) / "dsn")  # returns the trained DSN; 5.4 reloads it from its checkpoint
dsn_path = RunDir(Path(out_dir) / "dsn").final
dsn_seconds = time.perf_counter() - t0
print(f"DSN: {cfg.total_iters} iterations, batch {cfg.batch_size}, HR patch {cfg.lr_patch * 4}, "
      f"{dsn_seconds:.1f} s (profile {profile}, seed {seed})")

# %%
from srlib.runs import MetricsLog

log = MetricsLog(Path(out_dir) / "dsn" / "metrics.jsonl").read()
train_log = [r for r in log if "l_kl" in r]
val_log = [r for r in log if "psnr_yg" in r]
fig, axes = plt.subplots(1, 3, figsize=(11, 2.8))
steps = [r["step"] for r in train_log]
axes[0].plot(steps, [r["l_kl"] for r in train_log])
axes[0].set(title=r"$L_{kl}$ (pixel KL)", xlabel="step", yscale="log")
axes[1].plot(steps, [r["l_per"] for r in train_log])
axes[1].set(title=r"$L_{kl-per}$ (random VGG)", xlabel="step")
axes[2].plot(steps, [r["theta_mean"] for r in train_log])
axes[2].set(title=r"mean $\theta$ in the batch (gray levels)", xlabel="step")
plt.tight_layout()
plt.show()
print("LR-domain validation (official --test_visible: PSNR of quantised y_g vs the real LR, RGB, crop 4):")
for r in val_log:
    print(f"  step {r['step']}: y_g {r['psnr_yg']:.2f} dB, bicubic y_b {r['psnr_bicubic']:.2f} dB")

# %% [markdown]
# ## 5.4 Bicubic, generated and real LR
#
# The run above shows the loop, but it is short for a DSN. srlib's model zoo ships one trained longer:
# `usrdu-small-dsn` has the same tiny widths and the same situation-5 heads, and the `small` profile trained it for
# more iterations with a larger batch, on the stand-in data plus the SunHays80 photographs (split the same way: half
# HR, half through the camera; see `srlib weights list` for the exact command, seed and data). With
# `pretrained=True` the analyses from here on use it, and the DSN trained above stays beside it for comparison. Both
# are loaded from their checkpoint files, as any later user would load them.
#
# First the official validation measure: the LR-domain PSNR between the quantised $y_g$ and the real LR of each
# validation image, next to the bicubic $y_b$. A DSN that imitates the camera should beat bicubic here.

# %%
from srlib import zoo
from srlib.metrics import psnr
from srlib.usrdu.analysis import compare, dsn_outputs, run_summary, zoo_missing
from srlib.usrdu.train_dsn import dsn_validation, load_dsn_checkpoint

ZOO_DSN = "usrdu-small-dsn"
LIVE = f"{profile} DSN trained above ({cfg.total_iters} it)"
ZOO_KEY = "small DSN from the zoo"
dsns = {LIVE: load_dsn_checkpoint(dsn_path)}
missing = zoo_missing([ZOO_DSN]) if pretrained else []
if pretrained and not missing:
    dsns[ZOO_KEY] = load_dsn_checkpoint(zoo.path(ZOO_DSN))
    print(f"zoo:{ZOO_DSN}: {zoo.entry(ZOO_DSN).origin}\n    {run_summary(zoo.path(ZOO_DSN))}")
elif pretrained:
    print(f"pretrained=True, but {missing[0]}\n-> the analyses below use the DSN trained above.")
analysed = list(dsns)[-1]  # the zoo DSN when it is there
print(f"analysed from here on: the {analysed}")

lr_val = {k: dsn_validation(d, val) for k, d in dsns.items()}
bic = lr_val[LIVE]["psnr_bicubic"]
print(f"\nLR-domain PSNR against the real LR, mean of {len(val)} validation images (RGB, crop 4):")
print(f"  {'bicubic y_b':40s} {bic:6.2f} dB")
for k, r in lr_val.items():
    print(f"  {'y_g, ' + k:40s} {r['psnr_yg']:6.2f} dB")

a = lr_val[analysed]["psnr_yg"]
c = compare(a, bic)
verdict = {True: "closer to the real LR than bicubic is", False: "further from the real LR than bicubic is",
           None: "as close to the real LR as bicubic is (to 2 decimals)"}[c["better"]]
text = (f"The mean `y_g` of the {analysed} is {verdict}: {a:.2f} dB against {bic:.2f} dB for `y_b`"
        + ("" if c["sign"] == 0 else f", {c['gap']:.2f} dB {'more' if c['sign'] > 0 else 'less'}") + ".")
if analysed != LIVE:
    live = lr_val[LIVE]["psnr_yg"]
    text += (f" The {LIVE} reaches {live:.2f} dB, "
             + {1: "more than", -1: "less than", 0: "as much as"}[compare(live, a)["sign"]] + " the zoo DSN, and "
             + {1: "above", -1: "below", 0: "level with"}[compare(live, bic)["sign"]] + " bicubic.")
say("ch05_lr", text)

# %% [markdown]
# {glue:md}`ch05_lr`
#
# On the first validation image we put the bicubic $y_b$, each DSN's mean $y_g$ and the real LR side by side, with
# a zoomed crop. The PSNR in each title is that image's own.

# %%
outs_by = {k: dsn_outputs(d, val) for k, d in dsns.items()}
outs = outs_by[analysed]
name = val[0][0]
crop = (slice(None), slice(40, 104), slice(40, 104))
short = {LIVE: f"{profile} DSN (live)", ZOO_KEY: "small DSN (zoo)"}
cols = [("bicubic $y_b$", outs[name]["y_b"])] + [(f"$y_g$, {short[k]}", o[name]["y_g"]) for k, o in outs_by.items()]
cols.append(("real LR", outs[name]["real"]))
fig, axes = plt.subplots(2, len(cols), figsize=(3 * len(cols), 6.2))
for j, (title, img) in enumerate(cols):
    axes[0, j].imshow(img.clamp(0, 1).permute(1, 2, 0))
    axes[1, j].imshow(img[crop].clamp(0, 1).permute(1, 2, 0), interpolation="nearest")
    p = "" if title == "real LR" else (
        f"\nPSNR vs real {float(psnr(img, outs[name]['real'], crop=4, y_channel=False)):.2f} dB")
    axes[0, j].set_title(title.replace(", ", "\n", 1) + p, fontsize=11)
for a_ in axes.flat:
    a_.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 5.5 Where is the degradation uncertain? (Fig. 6)
#
# The paper reports that "edges and texture areas tend to have a higher degradation uncertainty". We measure it:
# the Pearson and Spearman correlation between $\theta$ (mean over colour channels) and the local gradient
# magnitude of the bicubic LR image, pooled over the validation images. The stand-in camera has a second source of
# uncertainty that we know exactly: its noise variance grows with the signal ($a\,y + b^2$, a Poisson-Gaussian
# sensor), so a DSN that learned the camera should also give brighter pixels a larger $\theta$. We correlate
# $\theta$ with the brightness of $y_b$ too, per colour value.

# %%
from srlib.usrdu.analysis import correlation_phrase, theta_structure

structure = {k: theta_structure(o) for k, o in outs_by.items()}
print(f"theta vs |grad y_b| over {structure[analysed]['n']} LR pixels of the validation images:")
for k, st in structure.items():
    print(f"  {short[k]:18s} Pearson {st['pearson']:6.3f}, Spearman {st['spearman']:6.3f}; theta "
          f"{st['theta_min']:.2f} .. {st['theta_max']:.2f} gray levels, median {st['theta_median']:.2f}")
print("theta vs the brightness of y_b (per colour value):")
for k, st in structure.items():
    print(f"  {short[k]:18s} Pearson {st['pearson_brightness']:6.3f}, Spearman {st['spearman_brightness']:6.3f}")

# The outermost pixels can get a very different theta: the DSN's convolutions pad with zeros, so to them the image
# border is an edge. They are measured here and left out of the colour scale, which they would otherwise set.
B = 2
edge = {}
for k, o in outs_by.items():
    th = [v["theta"].mean(0) for v in o.values()]
    inner = torch.cat([t[B:-B, B:-B].flatten() for t in th])
    ring = torch.cat([torch.cat([t[0], t[-1], t[1:-1, 0], t[1:-1, -1]]) for t in th])  # the outermost pixel
    edge[k] = (float(ring.mean()), float(inner.mean()))
    print(f"  {short[k]:18s} mean theta: outermost pixel {edge[k][0]:.2f}, {B} pixels in and beyond {edge[k][1]:.2f} "
          "gray levels")
fig, axes = plt.subplots(len(outs_by), len(val), figsize=(4 * len(val), 3.4 * len(outs_by)), squeeze=False)
for i, (k, o) in enumerate(outs_by.items()):
    for a_, (n, v) in zip(axes[i], o.items()):
        t = v["theta"].mean(0)
        lo, hi = np.percentile(t[B:-B, B:-B].numpy(), [1, 99])
        im = a_.imshow(t, cmap="magma", vmin=lo, vmax=hi)
        a_.set_title(fr"$\theta$ on {n}, {short[k]}", fontsize=11)
        a_.axis("off")
        plt.colorbar(im, ax=a_, fraction=0.046, label="gray levels (1st-99th percentile inside)")
plt.tight_layout()
plt.show()

st = structure[analysed]
kind = correlation_phrase(st["spearman"])
text = (f"For the {analysed} the rank correlation between θ and the gradient magnitude is {kind} "
        f"(Spearman {st['spearman']:.3f}, Pearson {st['pearson']:.3f}): ")
text += {"positive": "θ is larger at edges and texture, as the paper reports.",
         "negative": "θ is *smaller* at edges and texture, the opposite of what the paper reports.",
         "negligible": "θ does not follow edges and texture here."}[kind]
kind_b = correlation_phrase(st["spearman_brightness"])
text += (f" Its rank correlation with brightness is {kind_b} (Spearman {st['spearman_brightness']:.3f}): "
         + {"positive": "brighter pixels get a larger θ, as the camera's signal-dependent noise asks for.",
            "negative": "brighter pixels get a *smaller* θ, although the camera's noise grows with the signal.",
            "negligible": "θ does not follow the camera's signal-dependent noise."}[kind_b])
text += (f" On the outermost pixel its mean θ is {edge[analysed][0]:.2f} gray levels against "
         f"{edge[analysed][1]:.2f} inside (zero padding makes the border an edge to the network); the maps' colour "
         "scale leaves that frame out.")
say("ch05_fig6", text)

# %% [markdown]
# {glue:md}`ch05_fig6`
#
# ## 5.6 Many LR images from one HR image
#
# Eq. 8 draws $\hat y = y_g + \epsilon\,\theta$ with standard Laplace $\epsilon$ (variance 2). srlib draws $\epsilon$
# by the inverse CDF from a seeded `torch.Generator`, fresh at every call. The samples come from the analysed DSN.

# %%
from srlib.usrdu.sampling import sample_lr

display(show_source(sample_lr, start="eps ="))
v = outs[name]
g = torch.Generator().manual_seed(seed)
samples = [sample_lr(v["y_g"][None], v["theta"][None] / 255, g)[0] for _ in range(3)]
fig, axes = plt.subplots(1, 5, figsize=(15, 3.2))
axes[0].imshow(v["y_g"][crop].permute(1, 2, 0), interpolation="nearest")
axes[0].set_title("mean $y_g$")
for j, s in enumerate(samples):
    axes[j + 1].imshow(s[crop].clamp(0, 1).permute(1, 2, 0), interpolation="nearest")
    axes[j + 1].set_title(f"sample {j + 1}")
# A few gray levels of noise are invisible at this zoom: the last panel shows two samples' difference, amplified.
AMP = 20
axes[4].imshow((0.5 + AMP * (samples[0] - samples[1]))[crop].clamp(0, 1).permute(1, 2, 0), interpolation="nearest")
axes[4].set_title(f"sample 1 − sample 2, ×{AMP}")
for a_ in axes:
    a_.axis("off")
plt.tight_layout()
plt.show()
diff = [(s - v["y_g"]).abs().mean().item() * 255 for s in samples]
print(f"mean |y_hat - y_g| per sample (gray levels, {name}, {analysed}): {[round(x, 2) for x in diff]}; "
      f"E|eps theta| = mean theta = {float(v['theta'].mean()):.2f}")

# %% [markdown]
# ## 5.7 Fig. 2 revisited with the learned $\theta$
#
# Section 5.1 fitted *one* Laplace and *one* Gaussian to all residuals. The DSN offers a per-pixel model of the real
# LR: $L(y_g, \theta)$. If $\theta$ captures where the camera is uncertain, the real LR should be more likely under it.
# We compare mean log-likelihoods per value (gray-level units, higher is better) on the validation pairs, including a
# global Laplace fitted to the residual $y_{real} - y_g$ so that the mean and the scale can be judged separately.

# %%
from srlib.usrdu.analysis import likelihood_rows

liks = {k: likelihood_rows(o) for k, o in outs_by.items()}
labels = {"gaussian_yb": "Gaussian around y_b, global sigma", "laplace_yb": "Laplace around y_b, global b",
          "laplace_yg": "Laplace around y_g, global b", "theta_yg": "Laplace around y_g, learned theta (per pixel)"}
import pandas as pd
from IPython.display import display

lik_table = pd.DataFrame({short[k]: {**{label: f"{r[key]:.3f}" for key, label in labels.items()},
                                     "(global b around y_g, gray levels)": f"{r['b_yg']:.2f}"}
                          for k, r in liks.items()})
lik_table.index.name = "mean log-likelihood per value"
display(lik_table)
print(f"(live DSN: profile {profile}, seed {seed}" + ("; zoo DSN: see 5.4)" if len(liks) > 1 else ")"))

r = liks[analysed]
c_theta = compare(r["theta_yg"], r["laplace_yg"], digits=3)
c_mean = compare(r["laplace_yg"], r["laplace_yb"], digits=3)
likelier = {1: "more likely", -1: "less likely", 0: "as likely (to 3 decimals)"}
fits = {1: "better", -1: "worse", 0: "equally well (to 3 decimals)"}
than = lambda sign: "than" if sign else "as"  # noqa: E731
text = (f"For the {analysed}, the real LR is {likelier[c_theta['sign']]} under the learned per-pixel θ "
        f"{than(c_theta['sign'])} under one global scale around the same mean ({r['theta_yg']:.3f} vs "
        f"{r['laplace_yg']:.3f} per value), and one global Laplace fits it {fits[c_mean['sign']]} around `y_g` "
        f"{than(c_mean['sign'])} around `y_b` ({r['laplace_yg']:.3f} vs {r['laplace_yb']:.3f}).")
say("ch05_lik", text)

# %% [markdown]
# {glue:md}`ch05_lik`

# %%
print(f"chapter run time: {time.perf_counter() - _chapter_start:.0f} s")

# %% [markdown]
# ## What we saw
#
# - {glue:md}`ch05_fig2`
# - The DSN predicts a mean LR image and a per-pixel Laplace scale. The pixel KL of Eq. 2 pushes $\theta$ towards one
#   gray level where $y_g$ matches the bicubic image and upward where it departs. That is a different target than
#   a Laplace likelihood fit of the residual, so $\theta$ is not a calibrated noise level.
# - Both DSNs of this chapter are CPU-sized runs with random VGG features: the one trained live above and, with
#   `pretrained=True`, the zoo's `small` DSN. {glue:md}`ch05_lr` {glue:md}`ch05_fig6` {glue:md}`ch05_lik` These are
#   what these runs measured, not the paper's converged numbers.
# - Sampling $\hat y = y_g + \epsilon\theta$ turns one HR image into as many LR images as we like. Chapter 6 trains
#   an SR network on them.

# %% [markdown]
# ## Exercises
#
# Each exercise has a solution, hidden until you open it. Those with a code cell end in a check (an `assert`) that fails
# on a wrong answer: run them at `tiny` as they are, or replace the code between `### BEGIN SOLUTION` and `### END
# SOLUTION` with your own. `make assignments` writes this chapter without the solutions (see the instructor page).

# %% [markdown]
# ```{exercise} KL versus likelihood
# :label: ch5-optimum
#
# For a residual d = 3 gray levels, find on a fine grid the Laplace scale b that minimises (a) the Laplace negative
# log-likelihood $\log 2b + d/b$ and (b) srlib's pixel KL, `laplace_kl`. Compare (b) with `kl_optimal_scale`. In the
# code cell, your answer defines `best_nll`, `best_kl`: the checks below it read them.
# ```

# %% [markdown]
# ```{solution-start} ch5-optimum
# :class: dropdown
# ```
#
# The likelihood is best at b = d: a Laplace law fits a residual best when its scale equals the residual. The KL against
# a unit-scale Laplace around $y_b$ pulls b towards 1 as well, so its optimum lies between 1 and d (1.89 for d = 3). The
# DSN trained with the KL therefore predicts a θ that grows with the residual more slowly than the residual itself,
# which is why 5.7 asks whether θ explains the real residuals.

# %%
import torch

from srlib.usrdu.losses import kl_optimal_scale, laplace_kl

d = 3.0  # |y_g - y_b| at one pixel, gray levels
log_b = torch.linspace(-3, 4, 70001, dtype=torch.float64)  # candidate scales b = exp(log_b)
### BEGIN SOLUTION
b = log_b.exp()
nll = torch.log(2 * b) + d / b  # Laplace negative log-likelihood of a residual d at scale b
kl = laplace_kl(torch.full_like(log_b, d), log_b)
best_nll, best_kl = float(b[nll.argmin()]), float(b[kl.argmin()])
### END SOLUTION
print(f"d = {d}: NLL optimum b = {best_nll:.3f}, KL optimum b = {best_kl:.3f} (srlib: {kl_optimal_scale(d):.3f})")
assert abs(best_nll - d) < 1e-2, "the likelihood is best when the scale equals the residual"
assert abs(best_kl - kl_optimal_scale(d)) < 1e-2, "the KL's optimum is srlib's kl_optimal_scale"

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} The spread of the samples
# :label: ch5-sampling
#
# Draw LR samples $\hat y = y_g + \epsilon\theta$ with `sample_lr` for a constant θ of 3 gray levels. What standard
# deviation do the samples have around $y_g$? In the code cell, your answer defines `mean`, `std`: the checks below it
# read them.
# ```

# %% [markdown]
# ```{solution-start} ch5-sampling
# :class: dropdown
# ```
#
# ε follows the standard Laplace law, whose variance is 2, so the samples spread with standard deviation √2·θ = 4.24
# gray levels around $y_g$, centred on it. θ is a *scale*, not a standard deviation; reading it as one underestimates
# the noise by √2.

# %%
import torch

from srlib.usrdu.sampling import sample_lr

y_g = torch.full((1, 3, 64, 64), 0.5)
theta = torch.full_like(y_g, 3 / 255)  # 3 gray levels
g = torch.Generator().manual_seed(0)
### BEGIN SOLUTION
samples = torch.stack([sample_lr(y_g, theta, g) for _ in range(50)])
std = float((samples - y_g).std()) * 255  # gray levels
mean = float((samples - y_g).mean()) * 255
### END SOLUTION
print(f"sample std {std:.3f} gray levels (sqrt(2) x theta = {2 ** 0.5 * 3:.3f}), mean offset {mean:+.4f}")
assert abs(std - 2 ** 0.5 * 3) < 0.05 * 3, "a Laplace law of scale theta has standard deviation sqrt(2) theta"
assert abs(mean) < 0.05, "the samples are centred on y_g"

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} The content term
# :label: ch5-l1
#
# Train with `content="l1"` (the paper's Eq. 2) instead of the official low-pass L1 that `tiny` uses. Where would you
# expect θ to change?
# ```

# %% [markdown]
# ```{solution} ch5-l1
# :class: dropdown
#
# The KL of Eq. 2 compares $L(y_g, \theta)$ with a unit-scale Laplace around $y_b$, so its optimal θ grows with the
# residual $d = |y_g - y_b|$ (the first exercise). The low-pass L1 ties $y_g$ to $y_b$ only at low frequencies and
# leaves fine detail free, where the adversarial loss pulls $y_g$ towards the real camera; the residual, and θ with
# it, can then grow at edges and texture. Plain L1 ties them at every frequency, so the residual shrinks there and θ
# should move towards 1 gray level everywhere: expect a flatter θ map and a weaker correlation with the gradient of
# $y_b$ than 5.5 measures. Check it with that correlation on both runs.
# ```

# %% [markdown]
# ```{exercise} Correlating with the real LR
# :label: ch5-real-gradient
#
# 5.5 correlates θ with the gradient of the bicubic LR $y_b$. Correlate it with the gradient of the *real* LR instead.
# Which is the fairer test?
# ```

# %% [markdown]
# ```{solution} ch5-real-gradient
# :class: dropdown
#
# The DSN never sees the real LR at test time: θ is a function of the HR image, through $y_b$-like features. Correlating
# with $|\nabla y_b|$ asks whether θ follows the structure the network can see. Correlating with the real LR's gradient
# mixes in the camera's noise, which raises the gradient magnitude everywhere and most in flat regions, so expect a
# weaker correlation. Both are useful: the first tests what the network learned, the second whether that matches the
# camera.
# ```

# %% [markdown]
# ## Paper vs. code
#
# :::{admonition} Where the authors' code departs from the paper
# :class: important
#
# - **Content term.** Eq. 2 has $\|y_g - y_b\|_1$; the official `kl_gau_bic` loss replaces it by an L1 between
#   5x5-Gaussian low-passed images (srlib: `content="lowpass_l1"`, used by the `official` and `tiny` profiles; the
#   `paper` profile uses `"l1"`). The KL part is the paper's.
# - **Units.** Everything is on the 0-255 scale with reference scale $\mathbf I$ = 1 gray level and a final /255,
#   which is why $\alpha = (1, 0.01, 0.01)$ reproduces the code's `--data_ratio 100 --per_ratio 1 --gan_ratio 1`.
# - **Perceptual KL.** The code maps VGG features through $255(0.5 f + 0.5)$ before the KL (halving differences)
#   and uses `conv5_4` before its ReLU.
# - **Schedule.** The paper states lr $10^{-4}$ halved every 100 epochs for 500 epochs; the code uses $5\cdot10^{-5}$
#   halved at epoch 250 and uses the epoch-420 checkpoint (srlib profiles `paper` and `official`).
# - **GAN.** The DSN discriminator is Real-ESRGAN's spectral-norm U-Net on $F(y) = 0.5 + 0.5(y - G_5 * y)$ with
#   zero padding (a bright ring at the borders for real and fake alike); its loss is sigmoid + clamp + BCE, which
#   saturates for confident logits.
# :::
