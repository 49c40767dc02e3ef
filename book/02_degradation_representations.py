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
# # 2. Learning degradation representations
#
# DASR (Wang et al., CVPR 2021) never estimates a blur kernel. Its encoder learns, without any kernel labels, to map
# an LR image to a vector that is *similar for patches that share a degradation* and *dissimilar for patches that do
# not*. The training signal is contrastive: two patches of the same LR image are a positive pair (same, unknown,
# degradation), patches of other images are negatives.
#
# **In this chapter you will**
#
# - read srlib's MoCo implementation: the key encoder, the queue of negatives and the InfoNCE logits;
# - train the degradation encoder and watch its loss and its top-1 contrastive accuracy;
# - redo the paper's Fig. 3: t-SNE of representations of held-out images under five kernel widths, for a model
#   trained with the contrastive loss (Model 4) and without it (Model 1), loaded from srlib's model zoo;
# - redo Fig. 6 for anisotropic kernels and noise levels;
# - put numbers beside every picture: the k-NN accuracy of the degradation classes **on image content the classifier
#   never saw**, and a supervised probe that tries to read the kernel width out of the representation, so that a
#   t-SNE plot is never the only evidence;
# - check that these measures *can* see the blur, with a positive control: three hand-made blur statistics.

# %%
import time
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import torch

from myst_nb import glue

import srlib.env
import srlib.show
from srlib.show import show_source

srlib.env.report()
srlib.show.book_style()  # readable text in figures scaled to the page
_chapter_start = time.perf_counter()

# %% tags=["parameters"]
profile = "tiny"     # "tiny" (minutes on a CPU) or "paper" (the published schedule: days on a GPU)
seed = 0             # seeds weight init, patch sampling, kernels and noise of every run in this chapter
out_dir = "runs/ch02"  # run folders; an existing finished run is loaded instead of retrained
threads = 1          # torch CPU threads: tiny models gain nothing from more, and one thread is robust on shared CPUs
encoder_iters = 600  # tiny only: encoder-only (stage 1) iterations of Model 4 and of the anisotropic encoder
sr_iters = 300       # tiny only: joint-stage (stage 2) iterations of Models 1 and 4
crops_per_image = 12 # held-out crops per test image for the representation study
pretrained = True    # analyses (Fig. 3, separation, probe) use the zoo's `small` checkpoints; the tiny models are
                     # still trained live below so that you see the loop. False: analyse the live tiny models instead

# %%
from srlib.config import BOOK_PROFILES, check_profile

check_profile(profile, BOOK_PROFILES)
torch.set_num_threads(threads)
device = "cuda" if torch.cuda.is_available() else "cpu"
print(f"profile={profile}, seed={seed}, pretrained={pretrained}, device={device}, "
      f"torch threads={torch.get_num_threads()}")

# %% [markdown]
# ## 2.1 Momentum contrast in srlib
#
# The encoder (six conv layers, global pooling, a two-layer MLP head; `srlib.dasr.encoder`) is trained with MoCo
# (He et al., 2020) as adapted by the official code. A *query* encoder gets gradients; a *key* encoder is a moving
# average of it, $\theta_k \leftarrow m\,\theta_k + (1-m)\,\theta_q$; a queue keeps the projections of recent keys
# as negatives. Here is the training-mode forward pass, in the official order (momentum update first, then keys,
# then logits, then enqueue):

# %%
from srlib.dasr.moco import MoCo, contrastive_accuracy

show_source(MoCo.forward)

# %%
show_source(MoCo.enqueue)

# %% [markdown]
# Two things in `forward` are there for training on several processes (`torchrun`) and change nothing in one:
# `all_gather_cat` hands `enqueue` the keys of every process, so that all of them hold the same queue, and the
# `shuffle_bn` branch (off by default, as in the official code) computes keys on a batch shuffled across processes.
#
# The queue is a ring buffer of K unit-length columns. A toy MoCo with K = 8 and batches of 4 shows the pointer
# wrapping around; the logits have one column for the positive and K for the negatives.

# %%
from srlib.dasr.encoder import Encoder

torch.manual_seed(seed)
toy = MoCo(Encoder((8, 8, 16)), queue_size=8, momentum=0.99)
for i in range(3):
    fea, logits, labels = toy(torch.rand(4, 3, 16, 16) * 255, torch.rand(4, 3, 16, 16) * 255)
    print(f"batch {i}: logits {tuple(logits.shape)}, labels {labels.tolist()}, queue_ptr -> {int(toy.queue_ptr)}")

# %% [markdown]
# :::{admonition} Paper vs. code
# :class: important
#
# Eq. 3 of the paper puts only the queue negatives in the denominator,
# $-\log \frac{e^{p^1\cdot p^2/\tau}}{\sum_j e^{p^1\cdot p^j_{queue}/\tau}}$. The official code (and srlib) uses the
# standard InfoNCE of MoCo, a cross-entropy over `[positive, negatives]` with the positive at index 0, so the positive
# is also in the denominator. The two differ by $\log(1 + e^{l_{pos}} / \sum e^{l_{neg}})$, which matters once the
# positive dominates. The next cell computes both on a toy batch from an untrained encoder, where it does not yet.
# :::

# %%
import torch.nn.functional as F

l_pos, l_neg = logits[:, :1], logits[:, 1:]
infonce = F.cross_entropy(logits, labels)
eq3 = (-l_pos.squeeze(1) + torch.logsumexp(l_neg, dim=1)).mean()
print(f"standard InfoNCE (code): {infonce.item():.4f}   paper Eq. 3: {eq3.item():.4f}   "
      f"top-1 accuracy: {contrastive_accuracy(logits).item():.2f}")

# %% [markdown]
# ## 2.2 Training the encoder
#
# Stage 1 of DASR trains the encoder alone with this loss (100 epochs in the paper); stage 2 trains encoder and SR
# network together with $L_1 + L_{degrad}$. We train two models on the built-in training photographs with isotropic
# Gaussian kernels, σ ~ U(0.2, 4), at ×4:
#
# - **Model 4** (full DASR): stage 1, then stage 2;
# - **Model 1** (paper Table 1): no $L_{degrad}$ and no stage 1; its encoder learns only through the SR loss.
#
# At `profile="tiny"` both get the same, short joint stage (`sr_iters`).

# %%
from srlib.dasr.train import train_dasr
from srlib.dasr.train_config import DASRTrainConfig

def config(ablation, setting="iso", **kw):
    cfg = DASRTrainConfig.for_profile(profile, setting=setting, scale=4, ablation=ablation, seed=seed, **kw)
    if profile == "tiny":  # same schedule shape, stage lengths from the parameters cell (Model 1 has no stage 1)
        cfg = cfg.with_iters(encoder_iters, sr_iters)
    return cfg

cfg4, cfg1 = config("model4"), config("model1")
t0 = time.perf_counter()
model4 = train_dasr(cfg4, f"{out_dir}/iso_model4", device=device)
model1 = train_dasr(cfg1, f"{out_dir}/iso_model1", device=device)
print(f"trained Models 4 and 1 in {time.perf_counter() - t0:.0f} s "
      f"({cfg4.total_iters} and {cfg1.total_iters} iterations; profile={profile}, seed={seed})")

# %%
from srlib.runs import MetricsLog

log4 = MetricsLog(f"{out_dir}/iso_model4/metrics.jsonl").read()

def smooth(values, n=20):
    values = np.asarray(values, dtype=float)
    return np.convolve(values, np.ones(n) / n, mode="valid") if len(values) > n else values

log1 = MetricsLog(f"{out_dir}/iso_model1/metrics.jsonl").read()
steps = np.array([r["step"] for r in log4])
fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
for ax, key, color, title, ref, ref_label in (
    (axes[0], "contrastive", "C0", "contrastive loss (Model 4)", np.log(cfg4.model.queue_size + 1), "log(K+1): random guess"),
    (axes[1], "acc", "C1", "top-1 contrastive accuracy (Model 4)", 1 / (cfg4.model.queue_size + 1), "chance 1/(K+1)"),
):
    values = [r[key] for r in log4]
    ax.plot(steps, values, alpha=0.25, color=color)
    ax.plot(steps[len(steps) - len(smooth(values)):], smooth(values), color=color)
    ax.axhline(ref, ls=":", color="gray", label=ref_label)
    ax.axvspan(0, cfg4.stage1_iters, color="gray", alpha=0.1)
    ax.set(title=title, xlabel="iteration (shaded: stage 1)")
    ax.legend()
for log, color, name in ((log4, "C2", "Model 4"), (log1, "C3", "Model 1")):
    l1 = smooth([r["l1"] for r in log if r["stage"] == 2])
    axes[2].plot(np.arange(len(l1)), l1, color=color, label=name)
axes[2].set(title="L1 (0-255 scale), smoothed", xlabel="joint-stage iteration")
axes[2].legend()
fig.suptitle(f"training curves (profile={profile}, seed={seed})", fontsize=10)
plt.tight_layout()
plt.show()
last = [r for r in log4 if r["stage"] == 1][-25:]
end_loss, end_acc = np.mean([r["contrastive"] for r in last]), np.mean([r["acc"] for r in last])
acc_chance = 1 / (cfg4.model.queue_size + 1)
print(f"end of stage 1: contrastive loss {end_loss:.2f} (random guess {np.log(cfg4.model.queue_size + 1):.2f}), "
      f"top-1 accuracy {end_acc:.3f} (chance {acc_chance:.4f}); profile={profile}, seed={seed}")
glue("ch2_acc_sentence", (f"At the end of stage 1 of the live run the loss is {end_loss:.2f} against "
                          f"{np.log(cfg4.model.queue_size + 1):.2f} for a random guess, and the top-1 accuracy is "
                          f"{end_acc:.3f}, {'above' if end_acc > acc_chance else 'not above'} the chance level "
                          f"{acc_chance:.4f} (mean of the last {len(last)} logged steps; profile={profile}, "
                          f"seed={seed})."), display=False)
stage1 = [r for r in log4 if r["stage"] == 1]
guess, fill = float(np.log(cfg4.model.queue_size + 1)), cfg4.model.queue_size // cfg4.batch_size
start_loss = float(np.mean([r["contrastive"] for r in stage1[:10]]))
after_fill = [r["contrastive"] for r in stage1 if r["step"] > fill]
early = float(np.mean(after_fill[:50])) if after_fill else float("nan")
where = ("near" if abs(start_loss - guess) <= 0.1 * guess else "above" if start_loss > guess else "below")
parts = [f"The contrastive loss starts at {start_loss:.2f} (mean of the first 10 logged steps), {where} "
         f"log(K+1) = {guess:.2f}, the loss of a uniform guess among the K+1 candidates."]
if where == "below":
    parts.append("The queue begins as random unit vectors, unlike any real key, so the matching key is easy to pick "
                 f"out until real keys have replaced them (K / batch = {fill} iterations).")
if after_fill:
    parts.append(f"Once the queue holds real keys the loss is {early:.2f} (mean of the next 50 logged steps) and "
                 + ("falls to" if end_loss < early - 0.1 else "rises to" if end_loss > early + 0.1 else
                    "stays near it,")
                 + f" {end_loss:.2f} by the end of stage 1 "
                 f"(last {len(last)} steps), {'below' if end_loss < guess else 'above'} the uniform guess.")
glue("ch2_start_sentence", " ".join(parts), display=False)

# %% [markdown]
# ## 2.3 Do the representations separate kernel widths? (Fig. 3)
#
# The paper degrades B100 with several kernel widths, encodes every LR image and shows a t-SNE map. We use random
# 256×256 crops of the three held-out built-in photographs (never seen in training), degrade each crop with the five
# kernel widths of Table 1, and encode the LR crops (64×64 at ×4). A picture alone can persuade either way, so every
# representation gets three numbers, all measured **on photographs the measure never saw** (folds grouped by source
# photograph: fit on two photographs, test on the third):
#
# - the **separation score**: a 5-nearest-neighbour classifier predicts the kernel width class of a crop from its
#   representation. Chance is 0.2. It asks whether crops with the same blur are *neighbours*;
# - a **kernel-width probe**: a ridge regression reads σ out of the standardised representation (its penalty chosen on
#   the training photographs only). We report R² and the mean absolute error in σ, beside a constant guess (the mean
#   width: R² = 0). It asks whether the blur is *in* the representation at all, even when content decides who is whose
#   neighbour;
# - a **photograph score**: the same 5-NN classifier asked which photograph a crop comes from, tested on crops it
#   never saw (chance 1/3). It measures how much of the representation is content.
#
# Two references frame the trained encoders. The *untrained* encoder (same architecture, random weights) is the
# negative reference. The **blur statistics** are the positive control: three hand-made numbers per LR crop (the log
# ratios of gradient energy to variance and of Laplacian energy to gradient energy, and the log variance;
# `srlib.dasr.analysis.blur_statistics`). Blur removes high frequencies first, so these carry the kernel width by
# construction. If they score above chance on this split, the split and the measures can see separation, and a
# trained encoder at chance has not learned it. With `pretrained=True` the trained encoders are the zoo's `small`
# checkpoints; where the authors' ×4 weights have been fetched (`srlib weights get dasr-official-x4-iso`), their
# encoder is added as another row.

# %%
from srlib import zoo
from srlib.dasr.analysis import (blur_statistics, compare_folds, degraded_crops, held_out_crops, kernel_width_probe,
                                 representations, separation_score, tsne)
from srlib.dasr.network import BlindSR
from srlib.data import builtin_images
from srlib.degradations import isotropic_gaussian

if pretrained:  # the zoo's CPU-trained `small` checkpoints (srlib/weights/, listed in its manifest)
    zoo_names = {"Model 1": "dasr-small-x4-model1", "Model 4": "dasr-small-x4-model4"}
    trained = {}
    for label, name in zoo_names.items():
        trained[f"{label} (zoo {name.split('-')[1]})"] = zoo.load(name).model
        print(f"zoo:{name}: {zoo.entry(name).origin}")
else:  # the tiny models trained live in section 2.2
    trained = {"Model 1 (live)": model1.cpu(), "Model 4 (live)": model4.cpu()}
m1_name, m4_name = trained
torch.manual_seed(seed)
encoders = {"untrained encoder": BlindSR(trained[m4_name].cfg).eval(), **trained}  # random weights, same architecture
official = "dasr-official-x4-iso"
if zoo.is_available(official):  # a reader who ran `srlib weights get dasr-official-x4-iso`
    encoders["authors' DASR (x4 iso)"] = zoo.load(official).model
    print(f"zoo:{official}: {zoo.entry(official).origin}")
print(f"study: {', '.join(encoders)}, plus blur statistics")

# %%
test_images = builtin_images("test")
hr_crops, groups = held_out_crops(test_images, 256, crops_per_image, torch.Generator().manual_seed(seed))
sigmas = (0.2, 1.0, 1.8, 2.6, 3.4)
iso_classes = [(isotropic_gaussian(s), 0.0) for s in sigmas]
chance = 1 / len(sigmas)
groups_all = np.tile(groups.numpy(), len(sigmas))                  # source photograph of every row (class-major)
crop_ids = np.tile(np.arange(len(hr_crops)), len(sigmas))         # the HR crop behind every row
lr_crops, y = degraded_crops(hr_crops, iso_classes, 4, seed=seed)  # the LR crops the encoders see
features = {name: representations(model, hr_crops, iso_classes, 4, seed=seed)[0] for name, model in encoders.items()}
features["blur statistics (control)"] = blur_statistics(lr_crops)

results = {}
for name, X in features.items():
    sep, sep_folds = separation_score(X, y, groups_all)
    photo, photo_folds = separation_score(X, groups_all, crop_ids)  # which photograph? folds grouped by crop
    results[name] = {"sep": sep, "sep_folds": sep_folds, "photo": photo, "photo_folds": photo_folds,
                     "probe": kernel_width_probe(X, np.asarray(sigmas)[y], groups_all)}
base = results["blur statistics (control)"]["probe"]
print(f"{len(hr_crops)} held-out crops x {len(sigmas)} kernel widths, x4; profile={profile}, seed={seed}, "
      f"pretrained={pretrained}")
import pandas as pd
from IPython.display import display

rows = {name: {"separation": f"{r['sep']:.3f}", "separation folds": ", ".join(f"{v:.3f}" for v in r["sep_folds"]),
               "probe R²": f"{r['probe']['r2']:.3f}",
               "probe R² folds": ", ".join(f"{v:.2f}" for v in r["probe"]["r2_folds"]),
               "MAE σ": f"{r['probe']['mae']:.2f}", "photograph": f"{r['photo']:.3f}"}
        for name, r in results.items()}
rows["constant guess (chance)"] = {"separation": f"{chance:.3f}", "probe R²": f"{base['baseline_r2']:.3f}",
                                   "MAE σ": f"{base['baseline_mae']:.2f}", "photograph": f"{1 / len(test_images):.3f}"}
display(pd.DataFrame(rows).T.fillna(""))

# %%
MARKERS = ("o", "^", "s", "D", "v")
photo_names = [name for name, _ in test_images]

def tsne_panel(ax, emb, y, names, title, photo=None):
    """Colour = degradation class; marker = source photograph (reveals maps organised by content)."""
    photo = np.tile(groups.numpy(), len(names)) if photo is None else photo
    for i, label in enumerate(names):
        for p in np.unique(photo):
            sel = (y == i) & (photo == p)
            ax.scatter(*emb[sel].T, s=12, marker=MARKERS[p % len(MARKERS)], alpha=0.8,
                       color=plt.cm.viridis(i / max(1, len(names) - 1)), label=label if p == 0 else None)
    ax.set(title=title, xticks=[], yticks=[])

fig, axes = plt.subplots(2, len(features), figsize=(3.6 * len(features), 7), height_ratios=(1.15, 1))
for col, (name, X) in enumerate(features.items()):
    r = results[name]
    tsne_panel(axes[0, col], tsne(X, seed), y, [f"σ={s}" for s in sigmas],
               f"{name}\nseparation {r['sep']:.2f} (chance {chance:.2f})")
    p = r["probe"]  # out-of-fold predictions: every point is a crop of a photograph the probe never saw
    jitter = np.random.default_rng(seed).uniform(-0.15, 0.15, len(y))
    axes[1, col].scatter(np.asarray(sigmas)[y] + jitter, p["predictions"], s=8, alpha=0.5,
                         c=groups_all, cmap="tab10", vmin=0, vmax=9)
    axes[1, col].plot([0, 3.6], [0, 3.6], ":", color="gray")
    axes[1, col].axhline(np.mean(sigmas), color="C3", lw=1, label="constant guess")
    axes[1, col].set(title=f"probe R² {p['r2']:.2f}, MAE {p['mae']:.2f}", xlabel="true σ",
                     ylim=(-1, 5), ylabel="predicted σ" if col == 0 else None)
axes[0, -1].legend(loc="best")
axes[1, 0].legend(loc="upper left")
fig.suptitle(f"Fig. 3 analogue: t-SNE of held-out crops (top; marker = photograph) and the kernel-width probe on "
             f"unseen photographs (bottom; colour = photograph); x4, profile={profile}, seed={seed}, "
             f"pretrained={pretrained}", fontsize=10)
plt.tight_layout()
plt.show()
print(f"markers = source photograph: {dict(zip(photo_names, MARKERS))}")

# %% [markdown]
# The sentences below are computed from the table above, not written in advance. A score counts as *above chance*
# only when every fold (every unseen photograph) is above it, as *below* when every fold is below, and otherwise as
# *at chance*; three folds are few, so this is deliberately strict. A probe counts as reading the width only when it
# explains more than 5 % of the variance of σ (R² > 0.05) in every fold: a heavily penalised ridge regression
# always beats the constant guess by a hair.

# %%
WORDS = {"above": "above chance in every fold", "at": "at chance (not above it in every fold)",
         "below": "below chance in every fold"}
R2_MARGIN = 0.05  # the least share of the variance of σ that counts as reading the width
PROBE_WORDS = {"above": "it explains more than 5 % of the variance of σ in every fold",
               "at": "it does not explain more than 5 % of the variance of σ in every fold",
               "below": "no better than the constant guess (under 5 % of the variance of σ in every fold)"}

def verdicts(name):
    r = results[name]
    return (compare_folds(r["sep_folds"], chance),
            compare_folds(r["probe"]["r2_folds"], r["probe"]["baseline_r2_folds"] + R2_MARGIN))

def describe(name):
    r, (sep_v, probe_v) = results[name], verdicts(name)
    return (f"{name}: separation {r['sep']:.2f} (folds {r['sep_folds'].min():.2f}-{r['sep_folds'].max():.2f}), "
            f"{WORDS[sep_v]}; probe R² {r['probe']['r2']:.2f}, MAE {r['probe']['mae']:.2f}: {PROBE_WORDS[probe_v]}; "
            f"photograph score {r['photo']:.2f}")

control = "blur statistics (control)"
control_sep, control_probe = verdicts(control)
m4_sep, m4_probe = verdicts(m4_name)
m1_sep, m1_probe = verdicts(m1_name)
if control_sep != "above" and control_probe != "above":
    encodes = ("The positive control itself does not separate the widths on this split, so these crops cannot show "
               "separation either way: read the encoder rows as inconclusive, not as negative.")
elif m4_sep == "above":
    encodes = (f"{m4_name}'s representation separates kernel widths on photographs it never saw: at this scale it "
               f"encodes the blur, and not only the content. {m1_name}, trained without the contrastive loss, is "
               f"{WORDS[m1_sep]}.")
elif m4_probe == "above":
    encodes = (f"{m4_name}'s nearest neighbours are not set by the blur (k-NN score {results[m4_name]['sep']:.2f}, "
               f"{m4_sep} chance), yet a linear read-out recovers part of the width (probe R² "
               f"{results[m4_name]['probe']['r2']:.2f}; {PROBE_WORDS[m4_probe]}): at this scale the blur is in the "
               f"representation, but it is not what organises it.")
else:
    encodes = (f"Neither measure finds the kernel width in {m4_name}'s representation on unseen photographs, while "
               f"three hand-made statistics of the same LR crops do: the blur is there to be found, and at this scale "
               f"the contrastive encoder has not found it.")
if m4_sep != "above" and (m1_sep == "above" or m1_probe == "above"):
    encodes += (f" {m1_name}, whose encoder learns only through the SR loss, does carry it (separation "
                f"{results[m1_name]['sep']:.2f}, probe R² {results[m1_name]['probe']['r2']:.2f}): at this scale it is "
                "the SR loss, not the contrastive loss, that puts the blur into the representation, the reverse of "
                "the paper's Fig. 3.")
photo_chance = 1 / len(test_images)
photo_v = compare_folds(results[m4_name]["photo_folds"], photo_chance)
content_sentence = (f"The same representation tells which photograph an unseen crop comes from with accuracy "
                    f"{results[m4_name]['photo']:.2f} (chance {photo_chance:.2f}; "
                    f"{WORDS[photo_v].replace('chance', 'its chance')}), against {results[m4_name]['sep']:.2f} "
                    f"(chance {chance:.2f}) for which kernel width it went through.")
sep_gain = results[m4_name]["sep_folds"] - results[m1_name]["sep_folds"]  # same folds for every row
gain_v = compare_folds(sep_gain, 0.0)
if gain_v == "at" and (sep_gain <= 0).all():
    gain_v = "at or below"
elif gain_v == "at" and (sep_gain >= 0).all():
    gain_v = "at or above"
gain_sentence = (f"{m4_name} minus {m1_name} in separation: {sep_gain.mean():+.2f}, "
                 + {"above": "higher in every fold", "below": "lower in every fold",
                    "at or below": "lower or equal in every fold", "at or above": "higher or equal in every fold",
                    "at": "not consistently different across folds"}[gain_v] + ".")
official_sentence = (describe("authors' DASR (x4 iso)") + "." if "authors' DASR (x4 iso)" in results else
                     "The authors' ×4 weights are not on this machine; `srlib weights get dasr-official-x4-iso` "
                     "adds them to this study as another row.")
glue("ch2_control_sentence", describe(control) + ".", display=False)
glue("ch2_models_sentence", "; ".join(describe(n) for n in (m4_name, m1_name, "untrained encoder")) + ".",
     display=False)
glue("ch2_encodes_sentence", encodes, display=False)
glue("ch2_content_sentence", content_sentence, display=False)
glue("ch2_gain_sentence", gain_sentence, display=False)
glue("ch2_official_sentence", official_sentence, display=False)
glue("ch2_setup", f"profile={profile}, seed={seed}, pretrained={pretrained}", display=False)
for text in (describe(control), describe(m4_name), describe(m1_name), describe("untrained encoder"), encodes,
             content_sentence, gain_sentence, official_sentence):
    print(text)

# %% [markdown]
# **What the numbers say** ({glue:text}`ch2_setup`). The positive control: {glue:text}`ch2_control_sentence` The
# encoders: {glue:text}`ch2_models_sentence` {glue:text}`ch2_gain_sentence` {glue:text}`ch2_official_sentence`
#
# **What the representation encodes at this scale.** {glue:text}`ch2_encodes_sentence`
# {glue:text}`ch2_content_sentence`
#
# How to read this. In the paper, after 97 k encoder iterations at batch 32 on 3450 DIV2K/Flickr2K images, Model 4
# forms clear clusters by kernel width and Model 1 does not. When a score sits at chance, look at the markers of the
# t-SNE maps: points that group by *photograph* rather than by colour mean the representation is dominated by content,
# and a classifier tested on an unseen photograph cannot do better than chance. Then look inside one photograph's
# group: if the colours run in order of σ there, blur does move the representation, but by less than a change of
# photograph does, and a read-out fitted on other photographs misses it. Two things push a short CPU schedule
# that way. At ×4 the bicubic downsampler already low-passes strongly, so σ = 0.2 and σ = 1.0 give almost the same LR
# image (the probe plots show whether those two widths get told apart). And the contrastive task only asks the encoder
# to recognise "another patch of the same LR image"; the cheapest cue for that is content (colours, textures), which
# does not transfer to other photographs. Only a schedule long enough, on images enough, forces the encoder onto the
# degradation itself. The contrastive accuracy of section 2.2 is therefore *not* evidence of a degradation
# representation, and the positive control is what makes a score at chance mean something: without it, "at chance"
# could be a blind measure as much as a blind encoder. The probe adds a second question to the separation score: a
# representation can hold the blur in a few directions while content decides the nearest neighbours.

# %% [markdown]
# ## 2.4 Anisotropic kernels and noise (Fig. 6)
#
# The general setting trains on anisotropic Gaussians (λ1, λ2 ~ U(0.2, 4), θ ~ U(0, π)) plus noise with level
# ~ U(0, 25). We train a tiny stage-1 encoder on it live (the zoo has no `small` checkpoint for this setting) and look
# at (a) five noise-free anisotropic kernels (the first five of Table 3, as listed by a third party) and (b) one kernel
# with five noise levels.

# %%
from srlib.degradations import kernel_from_spec, test_grid

cfg_an = config("model4", setting="aniso")
cfg_an = replace(cfg_an, max_iters=cfg_an.stage1_iters)  # stage 1 only: the encoder
t0 = time.perf_counter()
enc_aniso = train_dasr(cfg_an, f"{out_dir}/aniso_encoder", device=device).cpu()
print(f"aniso encoder: {cfg_an.total_iters} iterations in {time.perf_counter() - t0:.0f} s; profile={profile}, seed={seed}")
torch.manual_seed(seed)
untrained_an = BlindSR(cfg_an.model).eval()

specs = [s for s in test_grid("table3").specs if s.noise == 0][:5]
kernel_classes = [(kernel_from_spec(s), 0.0) for s in specs]
noise_levels = (0.0, 5.0, 10.0, 15.0, 20.0)
noise_classes = [(kernel_from_spec(specs[2]), n) for n in noise_levels]
studies = {"(a) kernels, no noise": (kernel_classes, [f"λ=({s.lambda1:g},{s.lambda2:g}) θ={s.theta_deg:g}°" for s in specs]),
           f"(b) noise, kernel {specs[2].label}": (noise_classes, [f"noise {n:g}" for n in noise_levels])}
aniso_scores = {}
fig, axes = plt.subplots(2, 2, figsize=(10, 8.5))
for row, (study, (classes, names)) in enumerate(studies.items()):
    g_all = np.tile(groups.numpy(), len(classes))
    for col, (name, model) in enumerate((("untrained encoder", untrained_an), ("trained encoder", enc_aniso))):
        X, y = representations(model, hr_crops, classes, 4, seed=seed)
        mean, folds = separation_score(X, y, g_all)
        aniso_scores[study, name] = mean, folds
        print(f"{study:<40} {name:<18} separation {mean:.3f} folds {np.round(folds, 3)} (chance 0.20); "
              f"profile={profile}, seed={seed}")
        tsne_panel(axes[row, col], tsne(X, seed), y, names, f"{study}\n{name}: separation {mean:.2f}")
    axes[row, 1].legend()
fig.suptitle(f"Fig. 6 analogue (x4, held-out crops, profile={profile}, seed={seed})", fontsize=10)
plt.tight_layout()
plt.show()
aniso_sentence = "; ".join(
    f"{study}: the trained encoder scores {aniso_scores[study, 'trained encoder'][0]:.2f}, "
    f"{WORDS[compare_folds(aniso_scores[study, 'trained encoder'][1], 1 / len(classes))]}, the untrained one "
    f"{aniso_scores[study, 'untrained encoder'][0]:.2f}" for study, (classes, _) in studies.items()) + \
    f" (chance 0.20; profile={profile}, seed={seed})."
glue("ch2_aniso_sentence", aniso_sentence, display=False)
print(aniso_sentence)

# %% [markdown]
# In the paper (Fig. 6(b)) noise levels form clean clusters and kernels only "roughly" separate (Fig. 6(a)): a noise
# level is a content-independent statistic of every patch. Whether the live tiny encoder gets there:
# {glue:text}`ch2_aniso_sentence` With three held-out photographs, each fold trains the classifier on two photographs
# and tests on the third, a deliberately strict test. To see how far the representation moves with the noise level,
# plot one coordinate against the level for a fixed crop, and compare that range with the differences between
# photographs.

# %% [markdown]
# ## What we saw
#
# - srlib's MoCo follows the official code: momentum update, then keys, then `[positive, queue]` logits divided by
#   τ = 0.07, then the keys overwrite the oldest queue columns. The code's InfoNCE includes the positive in the
#   denominator, unlike the paper's Eq. 3.
# - {glue:text}`ch2_start_sentence` {glue:text}`ch2_acc_sentence`
# - Whether that recognition relies on the degradation is a separate question. Three measures answer it on unseen
#   photographs: the k-NN separation score, a kernel-width probe and a photograph score. A positive control, the
#   hand-made blur statistics, shows whether the split can see separation at all. Here
#   ({glue:text}`ch2_setup`): {glue:text}`ch2_encodes_sentence`
# - The anisotropic study, run on the live tiny encoder: {glue:text}`ch2_aniso_sentence`
# - The t-SNE pictures alone would not tell you any of this; the markers, the scores and the control do. The `paper`
#   profile runs the published schedule.

# %% [markdown]
# ## Exercises
#
# Each exercise has a solution, hidden until you open it. Those with a code cell end in a check (an `assert`) that fails
# on a wrong answer: run them at `tiny` as they are, or replace the code between `### BEGIN SOLUTION` and `### END
# SOLUTION` with your own. `make assignments` writes this chapter without the solutions (see the instructor page).

# %% [markdown]
# ```{exercise} The positive in the denominator
# :label: ch2-infonce
#
# For random logits with the positive in column 0, compute the code's loss (cross-entropy over `[positive, negatives]`)
# and the paper's Eq. 3 (negatives only in the denominator). Check that their difference is the mean of $\log(1 +
# e^{l_{pos}} / \sum_j e^{l_{neg,j}})$. In the code cell, your answer defines `gap`, `code_loss`, `paper_loss`: the
# checks below it read them.
# ```

# %% [markdown]
# ```{solution-start} ch2-infonce
# :class: dropdown
# ```
#
# Write the code's loss as $-l_{pos} + \log(e^{l_{pos}} + \sum_j e^{l_{neg,j}})$ and Eq. 3 as $-l_{pos} + \log\sum_j
# e^{l_{neg,j}}$. Their difference is $\log(1 + e^{l_{pos}} / \sum_j e^{l_{neg,j}})$, always positive, and small until
# the positive's logit dominates the negatives: late in training, when the encoder gets good.

# %%
import torch
import torch.nn.functional as F

g = torch.Generator().manual_seed(0)
logits = 3 * torch.randn(16, 1 + 64, generator=g)  # 16 queries; column 0 is the positive, 64 queue negatives
### BEGIN SOLUTION
code_loss = F.cross_entropy(logits, torch.zeros(16, dtype=torch.long))  # positive in the denominator (code)
paper_loss = (torch.logsumexp(logits[:, 1:], dim=1) - logits[:, 0]).mean()  # Eq. 3: negatives only
gap = code_loss - paper_loss
### END SOLUTION
print(f"code {float(code_loss):.4f}, paper {float(paper_loss):.4f}, gap {float(gap):.4f}")
expected = torch.log1p(torch.exp(logits[:, 0] - torch.logsumexp(logits[:, 1:], dim=1))).mean()
assert torch.allclose(gap, expected, atol=1e-5), "the gap should be the mean of log(1 + e^l_pos / sum e^l_neg)"

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Where the newest keys go
# :label: ch2-queue
#
# Build a MoCo with a queue of 8 and feed it three batches of 4 key images. Where is `queue_ptr` afterwards, and which
# columns of the queue hold the keys of the third batch? In the code cell, your answer defines `where`: the checks below
# it read it.
# ```

# %% [markdown]
# ```{solution-start} ch2-queue
# :class: dropdown
# ```
#
# Each batch writes its keys at the pointer and advances it modulo K. Batches one and two fill columns 0-3 and 4-7; the
# third wraps around and overwrites 0-3, the oldest keys, leaving the pointer at 4. Recompute the third batch's keys
# with `encoder_k` *after* the call: the momentum update happens before the keys are computed, so the key encoder you
# see is the one that produced them.

# %%
import torch
import torch.nn.functional as F

from srlib.dasr.encoder import Encoder
from srlib.dasr.moco import MoCo

torch.manual_seed(0)
moco = MoCo(Encoder((8, 8, 16)), queue_size=8, generator=torch.Generator().manual_seed(0)).train()
batches = [(torch.rand(4, 3, 16, 16) * 255, torch.rand(4, 3, 16, 16) * 255) for _ in range(3)]
### BEGIN SOLUTION
for im_q, im_k in batches:
    moco(im_q, im_k)
# the third batch's keys, recomputed with the key encoder as it is now (it was updated before computing them)
with torch.no_grad():
    newest = F.normalize(moco.encoder_k(batches[-1][1])[1], dim=1)
where = [c for c in range(8) if any(torch.allclose(moco.queue[:, c], k, atol=1e-6) for k in newest)]
### END SOLUTION
print(f"queue_ptr {int(moco.queue_ptr)}, newest keys in columns {where}")
assert int(moco.queue_ptr) == 4, "12 keys into a queue of 8: the pointer wraps to 4"
assert where == [0, 1, 2, 3], "the third batch overwrote the oldest columns, 0-3"

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Why a probe must leave whole photographs out
# :label: ch2-ridgecv
#
# The probe of §2.3 picks its ridge penalty by leaving one *photograph* out. `sklearn.linear_model.RidgeCV` would leave
# one *row* (one crop) out instead. Which penalty would it pick, and what would happen to R² on unseen photographs?
# ```

# %% [markdown]
# ```{solution} ch2-ridgecv
# :class: dropdown
#
# Crops of one photograph share their content, and the representation encodes content strongly (the photograph score of
# §2.3). With one crop held out, its siblings from the same photograph are still in the training rows, so a weakly
# regularised probe predicts the held-out crop's σ from "which photograph is this". Cross-validation then rewards the
# weak penalty. On a photograph the probe has never seen, that shortcut does not exist and R² falls, possibly below
# zero. Leaving whole photographs out makes model selection face the same condition as the final test.
# ```

# %% [markdown]
# ```{exercise} Momentum in a short run
# :label: ch2-momentum
#
# The tiny profile uses key-encoder momentum 0.99; the paper uses 0.999. Train with 0.999 at `profile="tiny"` and
# compare the top-1 accuracy curves. Why does a short schedule need a faster key encoder?
# ```

# %% [markdown]
# ```{solution} ch2-momentum
# :class: dropdown
#
# With momentum m the key encoder is an exponential average of the query encoder over about 1/(1 - m) iterations: 100 at
# 0.99, 1,000 at 0.999. A tiny run lasts a few hundred iterations, so at 0.999 the key encoder stays close to its random
# initialisation for the whole run. Its keys then describe what a random network sees, and the query encoder is asked to
# match them: expect the accuracy curve to rise more slowly. The paper's value goes with its schedule of 582 k
# iterations (600 epochs of 970), 97 k of them encoder-only.
# ```

# %%
print(f"chapter run time: {time.perf_counter() - _chapter_start:.0f} s (profile={profile}, seed={seed})")
