"""Numbers published in the two papers, kept as data so chapters can print them beside what they measure.

Nothing here is computed: each table cites its source. Values are PSNR in dB unless stated otherwise.
"""
from __future__ import annotations

#: DASR (Wang et al., CVPR 2021) Table 2, row "Bicubic": noise-free isotropic Gaussian kernels, Y-channel PSNR.
#: ``{scale: {"widths": (...), "Set5": (...), "Set14": (...), "B100": (...), "Urban100": (...)}}``
DASR_TABLE2_BICUBIC = {
    2: {"widths": (0.0, 0.6, 1.2, 1.8),
        "Set5": (33.66, 32.30, 29.28, 27.07), "Set14": (30.24, 29.21, 27.13, 25.47),
        "B100": (29.56, 28.76, 26.93, 25.51), "Urban100": (26.88, 26.13, 24.46, 23.06)},
    3: {"widths": (0.0, 0.8, 1.6, 2.4),
        "Set5": (30.39, 29.42, 27.24, 25.37), "Set14": (27.55, 26.84, 25.42, 24.09),
        "B100": (27.21, 26.72, 25.52, 24.41), "Urban100": (24.46, 24.02, 22.95, 21.89)},
    4: {"widths": (0.0, 1.2, 2.4, 3.6),
        "Set5": (28.42, 27.30, 25.12, 23.40), "Set14": (26.00, 25.24, 23.83, 22.57),
        "B100": (25.96, 25.42, 24.20, 23.15), "Urban100": (23.14, 22.68, 21.62, 20.65)},
}

#: The classic bicubic baseline (Y PSNR / SSIM, ``scale`` pixels cropped) that the sigma = 0 column repeats.
BICUBIC_BASELINE_SSIM = {
    2: {"Set5": 0.9299, "Set14": 0.8688, "B100": 0.8431, "Urban100": 0.8403},
    3: {"Set5": 0.8682, "Set14": 0.7742, "B100": 0.7385, "Urban100": 0.7349},
    4: {"Set5": 0.8104, "Set14": 0.7027, "B100": 0.6675, "Urban100": 0.6577},
}
