"""The reproduction ledger: every table and figure of the two papers, where the book reproduces it, and how far.

:data:`LEDGER` is data: one :class:`Item` per paper figure or table, with the chapter section that reproduces it, the
profile and checkpoint used, a status from :data:`STATUSES`, and why. :func:`rows` adds *our* numbers beside the
paper's where both exist, read from the shipped zoo manifest (``srlib/weights/manifest.json``, re-scored in CI) and
:mod:`srlib.published`, never typed here. The book's ledger page renders :func:`rows`.

>>> [i.item for i in LEDGER if i.paper == "USR-DU"]
['Fig. 2', 'Fig. 6', 'Table 1', 'Table 2', 'Table 3']
>>> all(i.status in STATUSES for i in LEDGER)
True
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from srlib.published import DASR_TABLE1, DASR_TABLE2, USRDU_TABLE1

__all__ = ["STATUSES", "Item", "LEDGER", "rows"]

#: What a row can say about the reproduction.
STATUSES = ("reproduced within seed spread", "shown qualitatively", "differs", "needs a GPU or data not present")

_MANIFEST = Path(__file__).resolve().parent / "weights" / "manifest.json"


@dataclass(frozen=True)
class Item:
    """One figure or table of a paper and where the book stands on it."""

    paper: str  # "DASR" or "USR-DU"
    item: str  # "Fig. 3", "Table 2"
    shows: str  # what the paper's item shows
    where: str  # chapter and section that reproduce it
    uses: str  # profile and checkpoint
    status: str  # one of STATUSES
    why: str  # the measured reason for the status


LEDGER = (
    Item("DASR", "Fig. 3", "t-SNE of the representation: kernel widths form clusters for Model 4, not for Model 1",
         "2.3", "zoo dasr-small-x4-model4 / -model1 (small); live tiny encoder", "differs",
         "At CPU scale Model 4's contrastive encoder does not separate kernel widths on unseen photographs (kNN "
         "separation near chance) and identifies the photograph instead, while Model 1's encoder, trained only "
         "through the SR loss, carries more of the width (2.3 prints both, fold by fold); hand-made blur statistics "
         "separate them too. The paper trains 97k "
         "encoder iterations at batch 32; a paper-size encoder on one H200 for 15k iterations reached a separation "
         "of 0.26 against chance 0.20 (benchmarks/results/)."),
    Item("DASR", "Fig. 4", "PSNR on Set14 with representations taken from other images of the same kernel",
         "3.5", "zoo dasr-small-x4-model4 (small)", "differs",
         "Representations of other photographs with the same kernel move the PSNR of one image more than its own "
         "representation at a wrong kernel width does (the numbers are printed in 3.5): at this scale the "
         "representation carries the picture, the reverse of the paper's content invariance."),
    Item("DASR", "Fig. 6", "t-SNE for anisotropic kernels (a) and noise levels (b)", "2.4",
         "live tiny encoder (general setting; the zoo has no anisotropic model)", "needs a GPU or data not present",
         "Only a tiny stage-1 encoder is trained for the general setting; a separation comparable to the paper's "
         "needs the paper-scale encoder training."),
    Item("DASR", "Table 1", "Ablations Model 1-5 on Set14 x4 at five kernel widths", "4.2, 4.4",
         "zoo Models 4 and 1 (small); live tiny Models 1-5", "differs",
         "Compare the Model 4 minus Model 1 differences beside: the paper's grow with the kernel width; the small "
         "models' are a few tenths of a dB at most, on another width grid (Table 2's). The tiny five-model table "
         "sits inside its seed spread."),
    Item("DASR", "Table 2", "Isotropic kernels, x2/x3/x4, four sets: bicubic and DASR", "1.5, 3.3, 7.2",
         "zoo dasr-small-x4-model4 (small) at x4; bicubic at every scale", "differs",
         "Bicubic matches the paper at sigma = 0 to 0.01 dB and is higher on the blurred columns (chapter 1 traces the "
         "protocol); the small DASR clears bicubic by +1 dB or more at every x4 width (bench_zoo) and stays below "
         "the paper's full model in every cell beside."),
    Item("DASR", "Table 3", "Nine anisotropic kernels x noise 0/5/10 on Set14 x4", "7.3",
         "zoo dasr-small-x4-model4 (trained isotropic, noise-free)", "differs",
         "The paper's row comes from a model trained on anisotropic kernels with noise; the zoo's small model never "
         "saw either. 7.3 scores all 14 Set14 images with the paper's row beside ours; the comparison is out of the "
         "small model's training distribution."),
    Item("USR-DU", "Fig. 2", "Histogram of real minus bicubic LR, with Gaussian and Laplacian fits", "1.6, 5.7",
         "the seeded stand-in camera (RealWorldDegradation, seed 0)", "shown qualitatively",
         "Drawn on the stand-in camera, not NTIRE 2020 Track 1 (not shipped)."),
    Item("USR-DU", "Fig. 6", "Generated LR images and their uncertainty theta", "5.5",
         "zoo usrdu-small-dsn (small); live tiny DSN", "shown qualitatively",
         "theta maps of the small DSN on the stand-in camera, with their correlation to gradients and brightness."),
    Item("USR-DU", "Table 1", "Ablation situations 1-5 on NTIRE 2020 Track 1 (PSNR, SSIM, LPIPS)", "6.4, 6.5",
         "zoo usrdu-small-srn-s5 (small); live tiny situations 1-5", "needs a GPU or data not present",
         "NTIRE 2020 Track 1 and ImageNet VGG/AlexNet weights are not available here; the stand-in numbers are not "
         "comparable with the paper's. Ours are the manifest's scores of the small SRN on the Set5 and Set14 "
         "stand-ins (benchmarks/bench_zoo.py); chapter 6 scores 3 built-in images and chapter 7 the first 8 large "
         "images, so their numbers differ. The tiny rows of 6.5 differ mostly by which of three short DSN runs they "
         "share, so their order is not evidence for or against the paper."),
    Item("USR-DU", "Table 2", "NTIRE 2020 Track 1 (PSNR, SSIM, LPIPS) and Track 2 (NIQE)", "7.4",
         "zoo usrdu-small-psnr-init and usrdu-small-srn-s5 (small)", "needs a GPU or data not present",
         "Filled on stand-in Tracks 1 and 2 (seeded cameras); the real NTIRE data are not shipped. With the "
         "NTIRE2020_Track1/2 folders under SRLIB_DATA or data/, 7.4 adds the same rows on the real validation sets."),
    Item("USR-DU", "Table 3", "RealSR (PSNR, SSIM, LPIPS)", "7.4",
         "zoo usrdu-small-psnr-init, usrdu-small-srn-s5 and dasr-small-x4-model4 (small)",
         "needs a GPU or data not present",
         "RealSR is not available here. With RealSR(V3) under SRLIB_DATA or data/, 7.4 scores its x4 test pairs "
         "with bicubic, the zoo's USR-DU models and the small DASR, beside the paper's rows."),
)


def _manifest(path=None) -> dict:
    """The zoo manifest's entries by name (empty when the file is absent)."""
    p = Path(path) if path else _MANIFEST
    if not p.is_file():
        return {}
    return json.loads(p.read_text())["entries"]


def _numbers(it: Item, manifest: dict) -> tuple[str, str]:
    """(ours, paper) as short strings where the item has numbers on both sides, else ("", "")."""
    if it.paper == "DASR" and it.item == "Table 2" and "dasr-small-x4-model4" in manifest:
        m = manifest["dasr-small-x4-model4"]["metrics"]
        t = DASR_TABLE2[4]
        ours, paper = [], []
        for s in ("Set5", "Set14"):
            if s in m:
                ours.append(f"{s} x4: " + " / ".join(f"{m[s][f'sigma={w:g}']['psnr']:.2f}" for w in t["widths"]))
                paper.append(f"{s} x4: " + " / ".join(f"{v:.2f}" for v in t["rows"]["DASR"][s]))
        return "; ".join(ours), "; ".join(paper)
    if it.paper == "DASR" and it.item == "Table 1" and {"dasr-small-x4-model4", "dasr-small-x4-model1"} <= set(manifest):
        m4, m1 = (manifest[f"dasr-small-x4-{m}"]["metrics"]["Set14"] for m in ("model4", "model1"))
        ws = DASR_TABLE2[4]["widths"]
        ours = "Model 4 − Model 1, Set14 σ " + "/".join(f"{w:g}" for w in ws) + ": " + "/".join(
            f"{m4[f'sigma={w:g}']['psnr'] - m1[f'sigma={w:g}']['psnr']:+.2f}" for w in ws)
        r = DASR_TABLE1["rows"]
        paper = "Model 4 − Model 1, Set14 σ " + "/".join(f"{w:g}" for w in DASR_TABLE1["widths"]) + ": " + "/".join(
            f"{a - b:+.2f}" for a, b in zip(r["Model 4"], r["Model 1"]))
        return ours.replace("-", "−"), paper.replace("-", "−")
    if it.paper == "USR-DU" and it.item == "Table 1" and "usrdu-small-srn-s5" in manifest:
        m = manifest["usrdu-small-srn-s5"]["metrics"]
        ours = "; ".join(f"stand-in {s}: {m[s]['psnr']:.2f} dB / {m[s]['ssim']:.4f}" for s in ("Set5", "Set14") if s in m)
        p = USRDU_TABLE1[5]
        return ours, f"situation 5, NTIRE Track 1: {p[0]:.2f} dB / {p[1]:.4f} / LPIPS {p[2]:.4f}"
    return "", ""


def rows(manifest_path=None) -> list[dict]:
    """The ledger as table rows: the :class:`Item` fields plus ``ours`` and ``paper`` numbers where there are both.

    >>> r = rows()
    >>> len(r) == len(LEDGER), sorted(r[0])[:3]
    (True, ['item', 'ours', 'paper'])
    """
    manifest = _manifest(manifest_path)
    out = []
    for it in LEDGER:
        ours, paper = _numbers(it, manifest)
        out.append({"paper": it.paper, "item": it.item, "shows": it.shows, "where": it.where, "uses": it.uses,
                    "ours": ours, "paper_numbers": paper, "status": it.status, "why": it.why})
    return out
