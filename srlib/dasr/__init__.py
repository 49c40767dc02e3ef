"""DASR: unsupervised degradation representation learning for blind SR (Wang et al., CVPR 2021).

Modules, one paper component each:

* :mod:`srlib.dasr.config`: :class:`DASRConfig` (architecture sizes, ``tiny``/``paper`` profiles, ablation switches);
* :mod:`srlib.dasr.encoder`: the degradation encoder (Sec. 3.2.1, Fig. 2(a));
* :mod:`srlib.dasr.moco`: momentum contrast and the InfoNCE logits (Eq. 3);
* :mod:`srlib.dasr.daconv`: DA convolution, DA block and residual group (Sec. 3.2.2, Fig. 2(c));
* :mod:`srlib.dasr.network`: the SR net ``G`` and the ``BlindSR`` wrapper (Fig. 2(b));
* :mod:`srlib.dasr.oracle`: Model 5's true-kernel encoder; :mod:`srlib.dasr.ablations`: Table 1's Models 1-5;
* :mod:`srlib.dasr.official`: loading the authors' checkpoints; :mod:`srlib.dasr.train`: the two-stage training loop.
"""
from srlib.dasr.config import DASRConfig
from srlib.dasr.network import BlindSR, DASRNet, count_parameters, parameter_report

__all__ = ["DASRConfig", "BlindSR", "DASRNet", "count_parameters", "parameter_report"]
