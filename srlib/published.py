"""Numbers published in the two papers, kept as data so chapters can print them beside what they measure.

Nothing here is computed: each table cites its source (paper, table, rows and columns) and was typed from the paper.
Values are PSNR in dB unless stated otherwise; ``None`` marks a cell the paper leaves empty ("-").

* DASR (Wang et al., CVPR 2021): :data:`DASR_TABLE1` (ablations, Set14 x4), :data:`DASR_TABLE2` (isotropic kernels,
  x2/x3/x4, four sets), :data:`DASR_TABLE3` (nine anisotropic kernels x noise 0/5/10, Set14 x4).
* USR-DU (Ning et al., IJCAI 2022): :data:`USRDU_TABLE1` (ablation situations, NTIRE 2020 Track 1),
  :data:`USRDU_TABLE2` (NTIRE 2020 Track 1 PSNR/SSIM/LPIPS and Track 2 NIQE), :data:`USRDU_TABLE3` (RealSR).
"""
from __future__ import annotations

#: DASR Table 1: Set14, x4, noise-free isotropic Gaussians; PSNR per kernel width; ``time`` as printed (x4 on Set14).
DASR_TABLE1 = {
    "widths": (0.2, 1.0, 1.8, 2.6, 3.4),
    "rows": {
        "SRMDNF*": (28.44, 28.50, 28.49, 28.31, 27.55),
        "SRMDNF + KernelGAN": (26.62, 26.74, 26.62, 26.88, 26.66),
        "SRMDNF + Predictor": (26.13, 26.15, 26.19, 26.20, 26.18),
        "Model 1": (28.46, 28.40, 28.30, 27.77, 26.79),
        "Model 2": (28.49, 28.38, 27.99, 27.54, 26.72),
        "Model 3": (28.42, 28.30, 28.21, 27.97, 27.33),
        "Model 4": (28.50, 28.45, 28.40, 28.16, 27.58),
        "Model 5": (28.60, 28.67, 28.69, 28.48, 27.90),
    },
    "time": {"SRMDNF*": "3ms", "SRMDNF + KernelGAN": "3ms+190s", "SRMDNF + Predictor": "3ms+2ms", "Model 1": "70ms",
             "Model 2": "51ms", "Model 3": "67ms", "Model 4": "70ms", "Model 5": "61ms"},
}

_SETS = ("Set5", "Set14", "B100", "Urban100")


def _table2_rows(rows: dict) -> dict:
    """``{method: 16 values in the paper's column order}`` -> ``{method: {set: (4 widths)}}``."""
    return {m: {s: tuple(v[4 * i: 4 * i + 4]) for i, s in enumerate(_SETS)} for m, v in rows.items()}


#: DASR Table 2: noise-free isotropic Gaussians; PSNR (Y, ``scale`` pixels cropped) for each set at the four kernel
#: widths of each scale. ``{scale: {"widths": (...), "rows": {method: {set: (4 values)}}}}``.
DASR_TABLE2 = {
    2: {"widths": (0.0, 0.6, 1.2, 1.8), "rows": _table2_rows({
        "Bicubic": (33.66, 32.30, 29.28, 27.07, 30.24, 29.21, 27.13, 25.47, 29.56, 28.76, 26.93, 25.51,
                    26.88, 26.13, 24.46, 23.06),
        "RCAN": (38.27, 35.91, 31.20, 28.50, 34.12, 32.31, 28.48, 26.33, 32.41, 31.16, 28.04, 26.26,
                 33.34, 29.80, 25.38, 23.44),
        "SRMDNF + Predictor": (34.94, 34.77, 34.13, 33.80, 31.48, 31.35, 30.78, 30.18, 30.77, 30.33, 29.89, 29.20,
                               29.05, 28.42, 27.43, 27.12),
        "MZSR + Predictor": (35.96, 35.66, 35.22, 32.32, 31.97, 31.33, 30.85, 29.17, 30.64, 29.82, 29.41, 28.72,
                             29.49, 29.01, 28.43, 26.39),
        "DASR": (37.87, 37.47, 37.19, 35.43, 33.34, 32.96, 32.78, 31.60, 32.03, 31.78, 31.71, 30.54,
                 31.49, 30.71, 30.36, 28.95),
    })},
    3: {"widths": (0.0, 0.8, 1.6, 2.4), "rows": _table2_rows({
        "Bicubic": (30.39, 29.42, 27.24, 25.37, 27.55, 26.84, 25.42, 24.09, 27.21, 26.72, 25.52, 24.41,
                    24.46, 24.02, 22.95, 21.89),
        "RCAN": (34.74, 32.90, 29.12, 26.75, 30.65, 29.49, 26.75, 24.99, 29.32, 28.56, 26.55, 25.18,
                 29.09, 26.89, 23.85, 22.30),
        "SRMDNF + Predictor": (32.22, 32.63, 32.27, 28.62, 29.13, 29.25, 28.01, 26.90, 28.41, 28.25, 28.11, 26.56,
                               26.75, 26.61, 26.35, 24.06),
        "DASR": (34.11, 34.08, 33.57, 32.15, 30.13, 29.99, 28.66, 28.42, 28.96, 28.90, 28.62, 28.13,
                 27.65, 27.36, 26.86, 25.95),
    })},
    4: {"widths": (0.0, 1.2, 2.4, 3.6), "rows": _table2_rows({
        "Bicubic": (28.42, 27.30, 25.12, 23.40, 26.00, 25.24, 23.83, 22.57, 25.96, 25.42, 24.20, 23.15,
                    23.14, 22.68, 21.62, 20.65),
        "RCAN": (32.63, 30.26, 26.72, 24.66, 28.87, 27.48, 24.93, 23.41, 27.72, 26.89, 25.09, 23.93,
                 26.61, 24.71, 22.25, 20.99),
        "SRMDNF + Predictor": (30.61, 29.35, 29.27, 28.65, 27.74, 26.15, 26.20, 26.17, 27.15, 26.15, 26.15, 26.14,
                               25.06, 24.11, 24.10, 24.08),
        "IKC": (32.00, 31.77, 30.56, 29.23, 28.52, 28.45, 28.16, 26.81, 27.51, 27.43, 27.27, 26.33,
                25.93, 25.63, 25.00, 24.06),
        "DASR": (31.99, 31.92, 31.75, 30.59, 28.50, 28.45, 28.28, 27.45, 27.51, 27.52, 27.43, 26.83,
                 25.82, 25.69, 25.44, 24.66),
    })},
}

#: DASR Table 3: Set14, x4, the nine anisotropic test kernels (:data:`srlib.degradations.presets.TABLE3_KERNELS`,
#: in order) at noise levels 0, 5 and 10. ``{"rows": {method: {noise: (9 values)}}, "params": ..., "time": ...}``.
DASR_TABLE3 = {
    "noise": (0, 5, 10),
    "rows": {
        "DnCNN + RCAN": {0: (26.44, 26.22, 24.48, 24.23, 24.29, 24.19, 23.90, 23.42, 23.01),
                         5: (26.10, 25.90, 24.29, 24.07, 24.14, 24.02, 23.74, 23.31, 22.92),
                         10: (25.65, 25.47, 24.05, 23.84, 23.92, 23.80, 23.54, 23.14, 22.77)},
        "DnCNN + SRMDNF + Predictor": {0: (26.84, 26.88, 25.57, 25.69, 25.64, 24.98, 25.12, 25.28, 24.84),
                                      5: (25.92, 25.75, 24.18, 23.97, 24.05, 23.93, 23.65, 23.20, 22.80),
                                      10: (25.39, 25.23, 23.88, 23.68, 23.74, 23.65, 23.39, 22.99, 22.64)},
        "DnCNN + IKC": {0: (27.71, 27.78, 27.11, 27.02, 26.93, 26.65, 26.50, 26.01, 25.33),
                        5: (26.91, 26.80, 24.87, 24.53, 24.56, 24.40, 24.06, 23.53, 23.06),
                        10: (26.16, 26.09, 24.55, 24.33, 24.35, 24.17, 23.92, 23.43, 23.01)},
        "DASR": {0: (27.99, 27.97, 27.53, 27.45, 27.43, 27.22, 27.19, 26.83, 26.21),
                 5: (27.25, 27.18, 26.37, 26.16, 26.09, 25.96, 25.85, 25.52, 25.04),
                 10: (26.57, 26.51, 25.64, 25.47, 25.43, 25.31, 25.16, 24.80, 24.43)},
    },
    "params": {"DnCNN + RCAN": "650K+15.2M", "DnCNN + SRMDNF + Predictor": "650K+1.5M+420K",
               "DnCNN + IKC": "650K+5.2M", "DASR": "5.8M"},
    "time": {"DnCNN + RCAN": "169ms", "DnCNN + SRMDNF + Predictor": "8ms", "DnCNN + IKC": "520ms", "DASR": "70ms"},
}

#: USR-DU Table 1: ablation on NTIRE 2020 Track 1 (x4): situation -> (PSNR, SSIM, LPIPS); the ingredients of each
#: situation are :data:`srlib.usrdu.train_config.SITUATIONS`.
USRDU_TABLE1 = {1: (25.82, 0.7045, 0.2305), 2: (25.63, 0.6913, 0.2323), 3: (25.77, 0.7068, 0.2101),
                4: (25.99, 0.7106, 0.2097), 5: (25.99, 0.7141, 0.2033)}

#: USR-DU Table 2: NTIRE 2020, x4: method -> (Track 1 PSNR, SSIM, LPIPS, Track 2 NIQE); DAP has no Track 2 value.
USRDU_TABLE2 = {
    "ZSSR": (25.01, 0.6221, 0.6366, 5.7652),
    "P.T. ESRGAN": (25.40, 0.6429, 0.5712, 5.5913),
    "ZSSR+KernelGAN": (21.93, 0.5838, 0.5970, 6.4925),
    "Impressionism": (24.82, 0.6619, 0.2271, 4.1326),
    "DeFlow": (25.88, 0.7002, 0.2184, 3.4082),
    "DAP": (25.40, 0.7070, 0.2520, None),
    "USR-DU": (25.99, 0.7141, 0.2033, 3.3426),
}

#: USR-DU Table 3: RealSR (x4): method -> (PSNR, SSIM, LPIPS). S.T. ESRGAN is trained on RealSR's paired data.
USRDU_TABLE3 = {
    "ZSSR": (26.01, 0.7485, 0.3827),
    "P.T. ESRGAN": (26.06, 0.7542, 0.4370),
    "ZSSR+KernelGAN": (24.00, 0.7157, 0.3069),
    "DASR": (26.23, 0.7656, 0.2507),
    "USR-DU": (26.56, 0.7736, 0.2289),
    "S.T. ESRGAN": (25.68, 0.7271, 0.2085),
}

#: DASR Table 2, row "Bicubic" in the layout chapter 1 reads:
#: ``{scale: {"widths": (...), "Set5": (...), "Set14": (...), "B100": (...), "Urban100": (...)}}``
DASR_TABLE2_BICUBIC = {scale: {"widths": t["widths"], **t["rows"]["Bicubic"]} for scale, t in DASR_TABLE2.items()}

#: The classic bicubic baseline (Y PSNR / SSIM, ``scale`` pixels cropped) that the sigma = 0 column repeats.
BICUBIC_BASELINE_SSIM = {
    2: {"Set5": 0.9299, "Set14": 0.8688, "B100": 0.8431, "Urban100": 0.8403},
    3: {"Set5": 0.8682, "Set14": 0.7742, "B100": 0.7385, "Urban100": 0.7349},
    4: {"Set5": 0.8104, "Set14": 0.7027, "B100": 0.6675, "Urban100": 0.6577},
}
