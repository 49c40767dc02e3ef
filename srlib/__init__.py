"""srlib: a compact, tested library for blind image super-resolution.

It implements DASR (Wang et al., CVPR 2021) and USR-DU (Ning et al., IJCAI 2022) and everything they stand on.
Where things live:

* ``srlib.degradations``: the degradation model (MATLAB-exact bicubic ``imresize``, blur kernels, noise, presets,
  a stand-in real-world degradation).
* ``srlib.metrics``: PSNR / SSIM as the SR literature computes them, LPIPS; ``srlib.niqe``: NIQE as MATLAB does.
* ``srlib.published``: the papers' tables as data, each cited by table, row and column.
* ``srlib.data``: image I/O, datasets, patch samplers, the built-in corpus, the registry of real data sets.
* ``srlib.dasr``: the degradation encoder, MoCo, DA convolutions, the DASR network, its training and ablations.
* ``srlib.usrdu``: the downsampling network with uncertainty, discriminators, losses, sampling, ESRGAN SR training.
* ``srlib.models``: the one loading layer; recognises every checkpoint kind (srlib and official) and returns the
  one ``srlib.inference.Upscaler``. ``srlib.inference``: tiled inference in bounded memory, image files.
* ``srlib.evaluate``: the one evaluator (synthetic-LR benchmarks, and the USR-DU paired protocol with LPIPS).
* ``srlib.config``, ``srlib.runs``, ``srlib.checkpoints``, ``srlib.errors``, ``srlib.checks``: configs, run plumbing
  (safe checkpoints, resume), state-dict diffs, the error vocabulary and input checks.
* ``srlib.distributed``: data-parallel training under ``torchrun`` (global batch, per-rank streams, rank 0 writes);
  ``srlib.accel``: mixed precision, channels-last and compilation, for the trainers and for inference.
* ``srlib.cli``: the ``srlib`` command (``evaluate``, ``upscale``, ``train``, ``data``, ``env``), one error style.

Submodules are imported explicitly (``from srlib.degradations import imresize``); importing ``srlib`` itself is cheap.
"""

__version__ = "0.1.0"
