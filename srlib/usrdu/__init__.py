"""USR-DU (Ning et al., IJCAI 2022): unsupervised real-world SR with learned degradation uncertainty.

One paper component per module, imported explicitly:

* :mod:`srlib.usrdu.dsn`: the downsampling network (LR mean y_g, pixel uncertainty theta, feature uncertainty sigma).
* :mod:`srlib.usrdu.discriminator`: the spectral-norm U-Net discriminator used by both stages.
* :mod:`srlib.usrdu.rrdbnet`: the ESRGAN RRDBNet super-resolution network (SRN).
* :mod:`srlib.usrdu.vgg`: frozen VGG19 ``conv5_4`` features for the perceptual terms.
* :mod:`srlib.usrdu.losses`: Laplacian KL losses, the high-pass F and gradient G filters, GAN and ESRGAN losses.
* :mod:`srlib.usrdu.sampling`: sampling LR images y_g + eps * theta (online and cached schemes).
* :mod:`srlib.usrdu.train_config`: training configs with tiny / paper / official profiles; Table 1 situations as data.
* :mod:`srlib.usrdu.data`: unpaired training images and paired validation images (built-in stand-in or folders).
* :mod:`srlib.usrdu.train_dsn`: stage 1, the DSN training loop and ``srlib train usrdu-dsn``.
* :mod:`srlib.usrdu.train_srn`: stage 2, the SRN training loop and ``srlib train usrdu-srn``.
* the paper's scoring protocol (RGB PSNR / SSIM, LPIPS) is :func:`srlib.evaluate.evaluate_pairs`.
* :mod:`srlib.usrdu.analysis`: Laplace vs Gaussian fits and uncertainty statistics for the book.
* :mod:`srlib.usrdu.official`: loading the authors' DSN and ESRGAN weights.
"""
