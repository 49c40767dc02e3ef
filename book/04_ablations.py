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
# # 4. Ablations: what each part of DASR contributes
#
# Table 1 of the DASR paper removes one ingredient at a time and measures ×4 PSNR on Set14 for five kernel widths:
# the contrastive representation learning (Model 1), the DA convolution as a whole (Model 2), its modulation branch
# (Model 3), the full model (Model 4) and an oracle that is *given* the true kernel (Model 5).
#
# **In this chapter you will**
#
# - see how srlib expresses the five models as configurations of one code base, with matched parameter counts;
# - measure Table 1's key contrast, Model 1 (no contrastive loss) against Model 4 (full DASR), with the two `small`
#   checkpoints of the model zoo (`pretrained = True`), on Set14 when `SRLIB_DATA` has it;
# - train all five at tiny scale with two seeds each;
# - fill in Table 1's layout beside the paper's numbers, with the spread over seeds;
# - plot PSNR against kernel width per model, and discuss what a tiny run can and cannot tell.

# %%
import time

import matplotlib.pyplot as plt
import pandas as pd
import torch

import srlib.env
import srlib.show
from IPython.display import Markdown
from myst_nb import glue
from srlib.show import show_source

srlib.env.report()
srlib.show.book_style()  # readable text in figures scaled to the page
_chapter_start = time.perf_counter()
pd.set_option("display.max_colwidth", None)  # the model descriptions of 4.1 in full

def say(key: str, text: str) -> None:
    """Store a result sentence, built from the numbers printed next to it, for the prose to paste (myst-nb glue)."""
    glue(key, Markdown(text), display=False)

# %% tags=["parameters"]
profile = "tiny"        # "tiny" (minutes on a CPU) or "paper" (the published schedule, five times)
pretrained = True       # also measure the zoo's small Model 1 and Model 4 (section 4.2)
seed = 0                # first seed; runs use seed, seed + 1, ... (n_seeds of them)
n_seeds = 2             # independent trainings per model (the spread is reported)
out_dir = "runs/ch04"     # run folders; finished runs are loaded instead of retrained
threads = 1             # torch CPU threads per training process (tiny models gain nothing from more)
workers = 2             # training processes run side by side on CPU (one per core); 1 on a GPU
encoder_iters = 100     # tiny only: stage-1 iterations (Models 2, 3, 4)
sr_iters = 200          # tiny only: stage-2 iterations (all models)
use_set14 = profile == "paper"  # Set14 (Table 1's set, needs SRLIB_DATA) or the 3 held-out built-in photographs

# %%
from srlib.config import BOOK_PROFILES, check_profile

check_profile(profile, BOOK_PROFILES)
torch.set_num_threads(threads)
device = "cuda" if torch.cuda.is_available() else "cpu"
seeds = [seed + i for i in range(n_seeds)]
print(f"profile={profile}, pretrained={pretrained}, seeds={seeds}, device={device}")

# %% [markdown]
# ## 4.1 Five models, one code base
#
# Every variant is a row of `srlib.dasr.ablations.ABLATIONS`: a few `DASRConfig` fields and two trainer flags. The
# network code is never copied. Model 2 replaces each DA conv with a vanilla 3×3 conv on the features concatenated
# with the representation stretched to a map (as SRMD does); Model 3 drops the modulation branch; Model 5 swaps the
# encoder for five fully connected layers fed with the true 21×21 kernel. "We adjust the number of channels in models
# 2 and 3 to ensure comparable model sizes" (Sec. 4.2): srlib picks the width whose parameter count is closest to
# Model 4's.

# %%
from srlib.dasr.ablations import ABLATIONS, TABLE1_SIGMAS, ablation_table
from srlib.dasr.config import DASRConfig

show_source(ablation_table)

# %%
flags = {"model1": "✗ ✓ ✓ ✗", "model2": "✓ ✗ ✗ ✗", "model3": "✓ ✓ ✗ ✗", "model4": "✓ ✓ ✓ ✗", "model5": "- ✓ ✓ ✓"}
sizes = pd.DataFrame({
    "description": {n: a.label for n, a in ABLATIONS.items()},
    "repr. learning / kernel / modulation / oracle": flags,
    **{f"{p} n_feats": {r["model"]: r["n_feats"] for r in ablation_table(DASRConfig.for_profile(p, scale=4))}
       for p in ("paper", profile)},
    **{f"{p} params": {r["model"]: f"{r['params']:,}" for r in ablation_table(DASRConfig.for_profile(p, scale=4))}
       for p in ("paper", profile)},
})
sizes

# %% [markdown]
# ## 4.2 The key contrast, pretrained: Model 1 vs. Model 4
#
# The question Table 1 is built around is whether the contrastive degradation representation helps. Models 1 and 4
# differ only there: Model 1 trains the same network without the contrastive loss (and without the encoder stage).
# The zoo ships both at the `small` scale, trained by the commands their manifest records. They are scored with
# chapter 3's protocol (Y PSNR, ×4, 4 border pixels cropped) at Table 1's kernel widths, on Set14 when it is present,
# else on the held-out built-in photographs, beside the paper's numbers.

# %%
from srlib import zoo
from srlib.degradations.presets import test_grid
from srlib.evaluate import bicubic_upscaler, load_hr_images, sigma_sweep
from srlib.inference import Upscaler
from srlib.published import DASR_TABLE1

if pretrained:
    DATA = srlib.env.data_root()
    grid = test_grid("table1")
    widths = tuple(spec.sigma for spec in grid.specs)
    zoo_set, zoo_images = "built-in test photographs", load_hr_images(None, "builtin")
    if DATA is not None:
        try:
            zoo_images, zoo_set = load_hr_images(DATA, grid.datasets[0]), grid.datasets[0]
        except FileNotFoundError:
            pass
    pair = {"Model 1": "dasr-small-x4-model1", "Model 4": "dasr-small-x4-model4"}
    rows = {"bicubic": bicubic_upscaler(4)}
    for label, name in pair.items():
        loaded = zoo.load(name)
        rows[label] = Upscaler(loaded.model, loaded.scale)
        print(f"{label}: {loaded.source}\n  {zoo.entry(name).origin}")
    t0 = time.perf_counter()
    zoo_psnr = sigma_sweep(rows, zoo_images, 4, widths, seed=seed)
    print(f"scored on {zoo_set} ({len(zoo_images)} images) in {time.perf_counter() - t0:.0f} s")
    paper1, paper4 = DASR_TABLE1["rows"]["Model 1"], DASR_TABLE1["rows"]["Model 4"]
    ours_gap = [b - a for a, b in zip(zoo_psnr["Model 1"], zoo_psnr["Model 4"])]
    paper_gap = [b - a for a, b in zip(paper1, paper4)]
    key = pd.DataFrame({
        "bicubic": zoo_psnr["bicubic"], "Model 1 (zoo)": zoo_psnr["Model 1"], "Model 4 (zoo)": zoo_psnr["Model 4"],
        "Model 4 − Model 1": ours_gap, "paper: Model 1": paper1, "paper: Model 4": paper4,
        "paper: Model 4 − Model 1": paper_gap}, index=[f"σ={w:g}" for w in widths]).T
    print(f"Y PSNR (dB) on {zoo_set}, x4; zoo models: the checkpoints above; paper: DASR Table 1 (Set14, full "
          f"training)")
    display(key.round(2))

# %%
if pretrained:
    fig, ax = plt.subplots(figsize=(6, 3.3))
    ax.axhline(0, color="gray", lw=1, ls=":")
    ax.plot(widths, ours_gap, "o-", label=f"zoo small, {zoo_set}")
    ax.plot(DASR_TABLE1["widths"], paper_gap, "k^--", label="paper (Set14)")
    ax.set(xlabel="kernel width σ", ylabel="Model 4 − Model 1 (dB)", xticks=widths,
           title="What the contrastive representation adds (Table 1)")
    ax.legend()
    plt.tight_layout()
    plt.show()

    def signed(values) -> str:
        """'−0.12, +0.05 and +0.30' (signed, with a typographic minus)."""
        text = [f"{v:+.2f}".replace("-", "−") for v in values]
        return ", ".join(text[:-1]) + " and " + text[-1] if len(text) > 1 else text[0]

    mean_ours, mean_paper = sum(ours_gap) / len(ours_gap), sum(paper_gap) / len(paper_gap)
    text = (f"On {zoo_set}, Model 4 − Model 1 is {signed(ours_gap)} dB at σ = "
            f"{', '.join(f'{w:g}' for w in widths[:-1])} and {widths[-1]:g} (mean {signed([mean_ours])} dB); in the "
            f"paper it is {signed(paper_gap)} dB (mean {signed([mean_paper])} dB), largest at σ = "
            f"{DASR_TABLE1['widths'][paper_gap.index(max(paper_gap))]:g}.")
    if abs(mean_ours) < 0.05:
        text += " The zoo's two models are within 0.05 dB of each other on average."
    elif mean_ours > 0:
        text += " The zoo's Model 4 is ahead on average, as in the paper."
    else:
        text += " The zoo's Model 1 is ahead on average, unlike in the paper."
    above = [f"{n} at {sum(v > b for v, b in zip(zoo_psnr[n], zoo_psnr['bicubic']))} of {len(widths)}"
             for n in ("Model 1", "Model 4")]
    text += f" Widths where each beats bicubic: {above[0]}, {above[1]}."
    say("ch04_key", text)
else:
    say("ch04_key", "This run has `pretrained = False`, so the zoo's models were not measured.")

# %% [markdown]
# {glue:md}`ch04_key` One checkpoint per model is one seed: how much two trainings of the same model can differ is
# what 4.4 measures with the tiny runs.

# %% [markdown]
# ## 4.3 Training
#
# Models 1 and 5 skip the encoder stage and the contrastive loss (Model 1 by definition, Model 5 because it has no
# encoder); Models 2-4 run both stages. All models get the same number of joint-stage iterations.

# %%
from srlib.dasr.train import train_dasr
from srlib.dasr.train_config import DASRTrainConfig

def config(ablation, run_seed):
    cfg = DASRTrainConfig.for_profile(profile, setting="iso", scale=4, ablation=ablation, seed=run_seed)
    if profile == "tiny":  # stage lengths from the parameters cell; Models 1 and 5 keep no encoder stage
        cfg = cfg.with_iters(encoder_iters, sr_iters)
    return cfg

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from srlib.dasr.train import load_trained

jobs = [(name, s) for name in ABLATIONS for s in seeds]
run_dir = {job: f"{out_dir}/{job[0]}_seed{job[1]}" for job in jobs}
n_workers = 1 if device == "cuda" else max(1, workers)
t0 = time.perf_counter()
# Independent runs, so they can share the CPU cores: each worker process trains with `threads` threads. Every run is
# fully determined by its config (seeded), so the schedule of the workers does not change any number.
with ProcessPoolExecutor(n_workers, mp_context=multiprocessing.get_context("spawn"),
                         initializer=torch.set_num_threads, initargs=(threads,)) as pool:
    futures = [pool.submit(train_dasr, config(*job), run_dir[job], device=device, quiet=True) for job in jobs]
    for f in futures:
        f.result()  # re-raises any error of a worker
models = {job: load_trained(f"{run_dir[job]}/checkpoints/final.pt", device="cpu") for job in jobs}
print(f"trained {len(jobs)} runs with {n_workers} worker(s) in {time.perf_counter() - t0:.0f} s (profile={profile})")
for name in ABLATIONS:
    print(f"  {name}: {config(name, seeds[0]).total_iters} iterations per run "
          f"({config(name, seeds[0]).stage1_iters} encoder-only), seeds {seeds}")

# %% [markdown]
# ## 4.4 Table 1
#
# Test protocol of chapter 3: fixed isotropic kernel, bicubic ×4 downsampling, 8-bit LR, SR quantised, PSNR on Y
# with 4 border pixels cropped. Every LR image is synthesised once and given to all ten models (Model 5 also gets its
# kernel).

# %%
from srlib.data.io import modcrop
from srlib.degradations import degrade, isotropic_gaussian
from srlib.evaluate import bicubic_upscaler, load_hr_images
from srlib.metrics import psnr

DATA = srlib.env.data_root()
test_set = "built-in test photographs"
images = load_hr_images(None, "builtin")
if use_set14 and DATA is not None:
    try:
        images, test_set = load_hr_images(DATA, "Set14"), "Set14"
    except FileNotFoundError:
        pass
print(f"evaluating on {test_set} ({len(images)} images), x4, kernel widths {TABLE1_SIGMAS}")

bicubic = bicubic_upscaler(4)
rows = []  # one row per (model, seed, sigma, image)
with torch.no_grad():
    for sigma in TABLE1_SIGMAS:
        kernel = isotropic_gaussian(sigma)
        for i, (img_name, hr) in enumerate(images):
            hr = modcrop(hr, 4)[None]
            grey = hr.shape[1] == 1
            hr_rgb = hr.expand(-1, 3, -1, -1)  # grey images (Set14's bridge) are replicated; SR averaged back
            lr = degrade(hr_rgb, kernel, 4, generator=torch.Generator().manual_seed(seed + i))
            outputs = {("bicubic", -1): bicubic(lr)}  # seed -1: deterministic baseline
            for (name, s), model in models.items():
                extra = {"kernel": kernel[None]} if model.oracle else {}
                outputs[name, s] = model(lr, **extra)
            for (name, s), sr in outputs.items():
                sr = sr.clamp(0, 1)
                sr = sr.mean(1, keepdim=True) if grey else sr
                rows.append({"model": name, "seed": s, "sigma": sigma, "image": img_name,
                             "psnr": float(psnr(sr, hr, crop=4)[0])})
df = pd.DataFrame(rows)
per_seed = df.groupby(["model", "seed", "sigma"])["psnr"].mean().reset_index()
summary = per_seed.groupby(["model", "sigma"])["psnr"].agg(["mean", "min", "max"]).reset_index()

# %%
table = {}
for name in list(ABLATIONS) + ["bicubic"]:
    row = {"repr. / kernel / mod. / oracle": flags.get(name, "")}
    for sigma in TABLE1_SIGMAS:
        r = summary[(summary.model == name) & (summary.sigma == sigma)].iloc[0]
        spread = f" ±{(r['max'] - r['min']) / 2:.2f}" if name != "bicubic" else ""
        row[f"σ={sigma} ours"] = f"{r['mean']:.2f}{spread}"
        if name in ABLATIONS:
            row[f"σ={sigma} paper"] = f"{ABLATIONS[name].paper_psnr[TABLE1_SIGMAS.index(sigma)]:.2f}"
    table[name] = row
table1 = pd.DataFrame(table).T.fillna("")  # bicubic has no paper column
print(f"PSNR (dB) on {test_set}, x4. ours: mean over seeds {seeds} ± half the range; profile={profile}. "
      "paper: DASR Table 1 (Set14, full schedule).")
table1

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
for k, name in enumerate(ABLATIONS):
    sub = summary[summary.model == name]
    axes[0].errorbar(sub["sigma"] + 0.02 * (k - 2), sub["mean"], yerr=[sub["mean"] - sub["min"], sub["max"] - sub["mean"]],
                     marker="o", capsize=3, label=f"{name}")
    axes[1].plot(TABLE1_SIGMAS, ABLATIONS[name].paper_psnr, marker="o", label=name)
bic = summary[summary.model == "bicubic"]
axes[0].plot(bic["sigma"], bic["mean"], "k:", label="bicubic")
axes[0].set(title=f"srlib, profile={profile}, {test_set}, seeds {seeds} (bars: min-max)", xlabel="kernel width σ",
            ylabel="PSNR (dB)")
axes[1].set(title="paper Table 1 (Set14, full training)", xlabel="kernel width σ")
for ax in axes:
    ax.legend()
plt.tight_layout()
plt.show()

# %%
mean_over_sigma = per_seed[per_seed.model != "bicubic"].groupby(["model", "seed"])["psnr"].mean().unstack()
print(f"mean PSNR over the five widths, per seed (profile={profile}):")
print(mean_over_sigma.round(3).to_string())
gaps = mean_over_sigma.max(axis=1) - mean_over_sigma.min(axis=1)
order = mean_over_sigma.mean(axis=1).sort_values(ascending=False)
print(f"\nranking by mean: {', '.join(f'{m} {v:.2f}' for m, v in order.items())}")
print(f"largest seed-to-seed gap of one model: {gaps.max():.3f} dB ({gaps.idxmax()}); "
      f"gap between best and worst model: {order.iloc[0] - order.iloc[-1]:.3f} dB")

big, small = max(TABLE1_SIGMAS), min(TABLE1_SIGMAS)
at_big = summary[summary.sigma == big].set_index("model")["mean"]
at_small = summary[summary.sigma == small].set_index("model")["mean"]
beat = [m for m in ABLATIONS if at_big[m] > at_big["bicubic"]]
beat_small = [m for m in ABLATIONS if at_small[m] > at_small["bicubic"]]
others = order.drop("model5")
margin, noise = order["model5"] - others.max(), gaps.max()
rank = list(order.index).index("model5") + 1
say("ch04_survives", (
    f"At σ = {big:g}, {len(beat)} of {len(ABLATIONS)} models beat bicubic ({at_big['bicubic']:.2f} dB)"
    + (f": {', '.join(beat)}." if beat else ".")
    + f" At σ = {small:g}, where there is little blur to undo, {len(beat_small)} of {len(ABLATIONS)} do "
    f"(bicubic {at_small['bicubic']:.2f} dB, best model {max(at_small[m] for m in ABLATIONS):.2f} dB)."
    + f" The oracle (model5) is handed the kernel, so it needs no representation learning; here it ranks {rank} of "
    f"{len(order)} by mean PSNR, {margin:+.2f} dB from the best other model ({others.idxmax()}), against a largest "
    f"seed-to-seed gap of {noise:.2f} dB: "
    + ("its advantage is larger than the seed noise." if margin > noise else
       "that is inside the seed noise, so this run does not show an oracle advantage.")))

# %% [markdown]
# ## 4.5 What a tiny run can and cannot show
#
# - **Scale of the effects.** In the paper, the five models span 0.2-1.2 dB per column after 600 epochs on 3450
#   images. Compare the gap between the best and worst model above with the seed-to-seed gap of a single model: when
#   the second is as large as the first, the ranking of the tiny table is noise, and only more seeds or longer runs
#   can settle it.
# - **What could survive.** Effects that do not need a good representation could show even at tiny scale: learning
#   to undo some blur, and the oracle's advantage. In this run: {glue:md}`ch04_survives`
# - **What does not.** The advantage of Model 4 over Model 1 comes from a representation that separates
#   degradations; chapter 2 measures how far the tiny and small encoders get there, and 4.2 what the small pair
#   makes of it. The difference between DA convolutions and concatenation (Model 2) or the modulation branch
#   (Model 3) is a few tenths of a dB in the paper; compare it with the seed-to-seed gap printed above.
# - **Evaluation set.** The table is computed on the set printed above; the paper's numbers are for Set14. Absolute
#   values are therefore not comparable on the built-in photographs, only the pattern across kernel widths.

# %% [markdown]
# ## What we saw
#
# - The five models of Table 1 are five configurations of the same srlib modules; Models 2 and 3 are width-matched to
#   Model 4 automatically (the parameter table of 4.1).
# - The key contrast with the zoo's small checkpoints (4.2): {glue:md}`ch04_key`
# - The tiny Table 1 above puts our means and seed spreads beside the paper's numbers, and the plot shows PSNR against
#   kernel width per model. Every number was computed in this chapter with the printed seeds and profile.
# - At tiny scale the differences between models must be read against the seed spread printed above.

# %% [markdown]
# ## Exercises
#
# Each exercise has a solution, hidden until you open it. Those with a code cell end in a check (an `assert`) that fails
# on a wrong answer: run them at `tiny` as they are, or replace the code between `### BEGIN SOLUTION` and `### END
# SOLUTION` with your own. `make assignments` writes this chapter without the solutions (see the instructor page).

# %% [markdown]
# ```{exercise} Width matching
# :label: ch4-width
#
# Models 2 and 3 are widened or narrowed until their inference-path parameter count matches Model 4's. Compute the
# counts and widths of Models 2 and 4 at the tiny sizes. In the code cell, your answer defines `widths`, `counts`: the
# checks below it read them.
# ```

# %% [markdown]
# ```{solution-start} ch4-width
# :class: dropdown
# ```
#
# `ablation_config` searches the width whose parameter count is closest to Model 4's, so the counts agree within a few
# per cent while the widths differ: Model 2's concatenation blocks cost a different number of parameters per channel
# than DA convolutions. Matching the count makes the comparison about the block design, not the network size.

# %%
from srlib.dasr.ablations import ablation_config, inference_parameters
from srlib.dasr.config import DASRConfig

base = DASRConfig.for_profile("tiny")
### BEGIN SOLUTION
counts = {name: inference_parameters(ablation_config(name, base)) for name in ("model2", "model4")}
widths = {name: ablation_config(name, base).n_feats for name in ("model2", "model4")}
### END SOLUTION
print(f"Model 4: n_feats {widths['model4']}, {counts['model4']:,} parameters; "
      f"Model 2: n_feats {widths['model2']}, {counts['model2']:,}")
assert abs(counts["model2"] - counts["model4"]) / counts["model4"] < 0.05, "width matching keeps the counts within 5 %"
assert widths["model2"] != widths["model4"], "Model 2's blocks are cheaper, so it gets a different width"

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} What the oracle sees
# :label: ch4-oracle
#
# Build an untrained Model 5 and check two facts: how many numbers its encoder takes, and whether its representation
# changes with the LR image or only with the kernel. In the code cell, your answer defines `n_inputs`, `same_kernel`,
# `other_kernel`: the checks below it read them.
# ```

# %% [markdown]
# ```{solution-start} ch4-oracle
# :class: dropdown
# ```
#
# The oracle's first layer takes 442 numbers: the 21×21 = 441 kernel values plus the noise level. It never looks at the
# image, so two different LR images with the same kernel get exactly the same representation, and two kernels get
# different ones. That is why it needs no representation learning and why it bounds what Model 4's encoder could
# achieve.

# %%
import torch

from srlib.dasr.ablations import ablation_config
from srlib.dasr.config import DASRConfig
from srlib.dasr.network import BlindSR
from srlib.degradations import DegradationSpec

net = BlindSR(ablation_config("model5", DASRConfig.for_profile("tiny")), generator=torch.Generator().manual_seed(0))
net.eval()
k1, k2 = DegradationSpec(4, sigma=1.0).kernel()[None], DegradationSpec(4, sigma=3.0).kernel()[None]
lr_a, lr_b = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
### BEGIN SOLUTION
n_inputs = next(net.E.parameters()).shape[1]  # the first Linear layer: (rep_dim, inputs)
with torch.no_grad():
    same_kernel = (net.represent(lr_a, kernel=k1) - net.represent(lr_b, kernel=k1)).abs().max()
    other_kernel = (net.represent(lr_a, kernel=k1) - net.represent(lr_a, kernel=k2)).abs().max()
### END SOLUTION
print(f"oracle input width {n_inputs}; change with the image {float(same_kernel):.2e}, "
      f"with the kernel {float(other_kernel):.2e}")
assert n_inputs == 21 * 21 + 1, "441 kernel values plus the noise level"
assert same_kernel == 0 and other_kernel > 0, "the oracle sees the kernel, never the image"

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} What Model 1 removes
# :label: ch4-model1
#
# Model 1 is built with `contrastive=False` and `pretrain_encoder=False`. Does it still have a degradation encoder? What
# exactly does it remove from DASR?
# ```

# %% [markdown]
# ```{solution} ch4-model1
# :class: dropdown
#
# It keeps the encoder and the DA convolutions. What it removes is the encoder's own objective: there is no stage 1 and
# no contrastive loss, so the encoder is trained only through the SR loss, end to end. Whatever it learns is whatever
# helps the L1 loss, not a representation that separates degradations. The gap between Models 1 and 4 is therefore the
# value of the contrastive objective, not of having an encoder.
# ```

# %% [markdown]
# ```{exercise} Which differences survive?
# :label: ch4-seeds
#
# Add seeds (`n_seeds = 5`) and longer runs (`sr_iters = 1000`). How would you decide which differences between the
# models are real?
# ```

# %% [markdown]
# ```{solution} ch4-seeds
# :class: dropdown
#
# Compare each difference with its own noise. With n seeds per model, the standard error of a mean is about the seed
# standard deviation divided by √n, and the difference of two means has a standard error √2 times that. A gap of more
# than about twice that is unlikely to be seed noise; a gap inside it is not evidence either way. Pair the seeds where
# you can (same seed, same data order) to shrink the noise. Longer runs can also change the ranking itself, so compare
# rankings at both lengths before trusting either.
# ```

# %%
print(f"chapter run time: {time.perf_counter() - _chapter_start:.0f} s (profile={profile}, seeds={seeds})")
