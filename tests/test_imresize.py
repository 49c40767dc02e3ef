"""Tests of the MATLAB-compatible bicubic imresize (srlib.degradations.imresize).

Independent sources: a MATLAB golden value (8x8 ramp, usrdu-official.md section 5), the MATLAB-generated LR_bicubic
benchmark files (bit for bit), the x4 stride-4 convolution of bicubic_pytorch (usrdu-official.md section 5) and a slow
loop-form numpy port of MATLAB's ``contributions`` written here.
"""

import importlib
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from srlib.degradations import imresize

# The package re-exports the function under the module's name, so fetch the module itself for its internals.
imr = importlib.import_module("srlib.degradations.imresize")


# --------------------------------------------------------------------------------------------------------------------
# Slow, independent reference: MATLAB's contributions() as loops, applied as dense matrices.


def _cubic_scalar(t: float) -> float:
    a = abs(t)
    if a <= 1:
        return 1.5 * a**3 - 2.5 * a**2 + 1
    if a <= 2:
        return -0.5 * a**3 + 2.5 * a**2 - 4 * a + 2
    return 0.0


def _reflect(j: int, n: int) -> int:
    """0-based index reflected MATLAB-style (edge sample repeated: ... b a | a b c | c b ...)."""
    while j < 0 or j >= n:
        j = -1 - j if j < 0 else 2 * n - 1 - j
    return j


def _ref_matrix(in_len, out_len, scale, antialias=True, border="symmetric"):
    shrink = scale < 1 and antialias
    width = 4 / scale if shrink else 4.0
    mat = np.zeros((out_len, in_len))
    for i in range(1, out_len + 1):
        u = i / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        taps = []
        for j in range(left, left + math.ceil(width) + 2):
            w = scale * _cubic_scalar(scale * (u - j)) if shrink else _cubic_scalar(u - j)
            taps.append((j - 1, w))
        total = sum(w for _, w in taps)
        for j, w in taps:
            jj = _reflect(j, in_len) if border == "symmetric" else min(max(j, 0), in_len - 1)
            mat[i - 1, jj] += w / total
    return mat


def _ref_resize(img: np.ndarray, out_hw, scales, antialias=True, border="symmetric") -> np.ndarray:
    """Float reference on the last two axes (linear, so the axis order does not matter)."""
    mh = _ref_matrix(img.shape[-2], out_hw[0], scales[0], antialias, border)
    mw = _ref_matrix(img.shape[-1], out_hw[1], scales[1], antialias, border)
    return mh @ img @ mw.T


# --------------------------------------------------------------------------------------------------------------------
# Golden numbers


def test_matlab_ramp_golden():
    ramp = torch.arange(64, dtype=torch.float64).view(8, 8)  # MATLAB reshape(0:63, 8, 8)'
    expected = torch.tensor([[12.3838, 16.6318], [46.3682, 50.6162]], dtype=torch.float64)
    out = imresize(ramp, 1 / 4)
    assert out.shape == (2, 2)
    assert (out - expected).abs().max().item() < 1e-4  # MATLAB prints 4 decimals
    assert torch.allclose(imresize(ramp.float(), 0.25), expected.float(), atol=1e-4)


def test_x4_equals_strided_conv_of_bicubic_pytorch():
    """usrdu-official.md section 5: x4 is a stride-4 conv with the outer product of 16 cubic taps at ±0.125..±1.875
    (normalised), after symmetric padding of 6 px."""
    offsets = np.arange(-1.875, 1.876, 0.25)
    taps = np.array([_cubic_scalar(o) for o in offsets])
    k1 = taps / taps.sum()
    k2 = torch.from_numpy(np.outer(k1, k1)).view(1, 1, 16, 16)
    x = torch.rand(2, 1, 24, 36, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    padded = torch.from_numpy(np.pad(x.numpy(), ((0, 0), (0, 0), (6, 6), (6, 6)), mode="symmetric"))
    expected = torch.nn.functional.conv2d(padded, k2, stride=4)
    assert torch.allclose(imresize(x, 1 / 4), expected, atol=1e-12)


CASES = [
    # (in_hw, scale or None, size or None, antialias, border)
    ((8, 8), 0.25, None, True, "symmetric"),
    ((8, 8), None, (3, 4), False, "symmetric"),
    ((8, 8), None, (5, 7), False, "symmetric"),
    ((8, 8), None, (11, 13), False, "symmetric"),
    ((8, 8), None, (13, 29), True, "symmetric"),
    ((4, 4), None, (5, 5), False, "symmetric"),
    ((17, 23), 0.37, None, True, "symmetric"),
    ((17, 23), 1.7, None, True, "symmetric"),
    ((17, 23), (0.5, 1.7), None, True, "symmetric"),
    ((30, 21), 1 / 3, None, True, "symmetric"),
    ((30, 21), 1 / 3, None, True, "replicate"),
    ((24, 24), 0.25, None, False, "replicate"),
    ((9, 12), 2, None, True, "symmetric"),
    ((9, 12), 3, None, True, "replicate"),
    ((3, 2), 0.1, None, True, "symmetric"),  # kernel much wider than the image: mirrored many times
    ((256, 5), None, (123, 11), True, "symmetric"),
]


@pytest.mark.parametrize("in_hw, scale, size, antialias, border", CASES)
def test_matches_loop_reference(in_hw, scale, size, antialias, border):
    x = torch.rand(2, 3, *in_hw, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    out = imresize(x, scale, size=size, antialias=antialias, border=border)
    if size is None:
        sh, sw = scale if isinstance(scale, tuple) else (scale, scale)
        size = (math.ceil(in_hw[0] * sh), math.ceil(in_hw[1] * sw))
        scales = (sh, sw)
    else:
        scales = (size[0] / in_hw[0], size[1] / in_hw[1])
    expected = _ref_resize(x.numpy(), size, scales, antialias, border)
    assert out.shape == (2, 3, *size)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-12, rtol=0)


# --------------------------------------------------------------------------------------------------------------------
# Real data: MATLAB-generated LR_bicubic files must be reproduced bit for bit.


def _benchmark_root() -> Path:
    root = os.environ.get("SRLIB_DATA")
    if not root:
        pytest.skip("SRLIB_DATA is not set: point it at the folder holding benchmark/{Set5,Set14} to run this test")
    path = Path(root) / "benchmark"
    if not (path / "Set5" / "HR").is_dir() or not (path / "Set14" / "HR").is_dir():
        pytest.skip(f"benchmark images not found under {path} (expected Set5/ and Set14/ with HR/, LR_bicubic/)")
    return path


def _read_png(path: Path) -> torch.Tensor:
    from PIL import Image

    array = np.array(Image.open(path))
    tensor = torch.from_numpy(array)
    return tensor.permute(2, 0, 1) if tensor.ndim == 3 else tensor  # (C, H, W), or (H, W) for grey (bridge)


def _lr_bicubic_mismatches(scale: int, names=None) -> tuple[int, list]:
    root = _benchmark_root()
    checked, bad = 0, []
    for dataset in ("Set5", "Set14"):
        for hr_path in sorted((root / dataset / "HR").glob("*.png")):
            if names is not None and hr_path.stem not in names:
                continue
            hr = _read_png(hr_path)
            h, w = hr.shape[-2:]
            hr = hr[..., : h - h % scale, : w - w % scale]  # modcrop, top-left anchored
            lr = _read_png(root / dataset / "LR_bicubic" / f"X{scale}" / f"{hr_path.stem}x{scale}.png")
            out = imresize(hr, 1 / scale)
            checked += 1
            if out.shape != lr.shape:
                bad.append((dataset, hr_path.stem, f"shape {tuple(out.shape)} vs {tuple(lr.shape)}"))
            elif not torch.equal(out, lr):
                diff = (out.int() - lr.int()).abs()
                bad.append((dataset, hr_path.stem, f"{int((diff > 0).sum())} px differ, max {int(diff.max())}"))
    return checked, bad


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_lr_bicubic_files_bit_exact(scale):
    checked, bad = _lr_bicubic_mismatches(scale)
    assert checked == 19, f"expected 5 + 14 images, found {checked}"
    assert not bad, f"x{scale}: {len(bad)}/{checked} images differ from MATLAB: {bad}"


@pytest.fixture
def general_path_only(monkeypatch):
    """Disable the strided fast path so the general gather path is exercised."""
    monkeypatch.setattr(imr, "_MAX_PERIOD", 0)
    imr._plan.cache_clear()
    imr._tensors.cache_clear()
    yield
    imr._plan.cache_clear()
    imr._tensors.cache_clear()


def test_general_path_also_bit_exact(general_path_only):
    assert imr._plan(30, 10, 1 / 3, True, "symmetric").period == 0
    for scale in (2, 3, 4):
        checked, bad = _lr_bicubic_mismatches(scale, names={"baby", "bridge", "comic"})
        assert checked == 3 and not bad, bad


# --------------------------------------------------------------------------------------------------------------------
# Paths, shapes, dtypes


def test_fast_path_is_used_for_integer_factors():
    assert imr._plan(96, 24, 0.25, True, "symmetric").period == 1
    assert imr._plan(96, 32, 1 / 3, True, "symmetric").period == 1
    assert imr._plan(24, 96, 4.0, True, "symmetric").period == 4
    assert imr._plan(17, 7, 0.37, True, "symmetric").period == 0


@pytest.mark.parametrize("scale", [0.25, 0.5, 1 / 3, 2.0, 3.0, 0.37])
def test_fast_and_general_paths_agree(scale, monkeypatch):
    x = torch.rand(1, 2, 24, 30, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    fast = imresize(x, scale)
    monkeypatch.setattr(imr, "_MAX_PERIOD", 0)
    imr._plan.cache_clear()
    imr._tensors.cache_clear()
    try:
        general = imresize(x, scale)
    finally:
        imr._plan.cache_clear()
        imr._tensors.cache_clear()
    assert torch.equal(fast, general)


def test_output_size_is_ceil():
    assert imresize(torch.zeros(10, 10), 0.25).shape == (3, 3)
    assert imresize(torch.zeros(10, 11), 1.5).shape == (15, 17)
    assert imresize(torch.zeros(1, 1, 7, 9), (0.5, 2)).shape == (1, 1, 4, 18)


def test_input_layouts_agree():
    x = torch.rand(2, 3, 20, 18, generator=torch.Generator().manual_seed(3))
    batched = imresize(x, 0.37)
    assert torch.allclose(imresize(x[0], 0.37), batched[0])  # (C, H, W)
    assert torch.allclose(imresize(x[0, 0], 0.37), batched[0, 0])  # (H, W)


def test_explicit_size_and_scale_agree_for_exact_factors():
    x = torch.rand(1, 3, 32, 48, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    assert torch.equal(imresize(x, size=(8, 12)), imresize(x, 0.25))
    assert imresize(x, size=(13, 29)).shape == (1, 3, 13, 29)


def test_up_then_down_roughly_recovers_smooth_image():
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 40), torch.linspace(0, 1, 40), indexing="ij")
    smooth = torch.sin(3 * xx) * torch.cos(2 * yy)
    back = imresize(imresize(smooth, 2), 0.5)
    assert back.shape == smooth.shape
    assert (back - smooth)[4:-4, 4:-4].abs().max() < 1e-2


def test_antialias_matters_only_when_shrinking():
    x = torch.rand(1, 1, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    assert not torch.allclose(imresize(x, 0.5), imresize(x, 0.5, antialias=False))
    assert torch.equal(imresize(x, 1.7), imresize(x, 1.7, antialias=False))


@pytest.mark.parametrize("scale, margin", [(2, 1), (3, 1), (4, 2)])
def test_symmetric_and_replicate_differ_only_at_the_border(scale, margin):
    x = torch.rand(1, 3, 24 * scale, 20 * scale, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    diff = (imresize(x, 1 / scale) - imresize(x, 1 / scale, border="replicate")).abs()
    assert diff[..., margin:-margin, margin:-margin].max() < 1e-12  # interior identical
    assert diff[..., 0, :].max() > 1e-3 and diff[..., :, -1].max() > 1e-3  # the outer pixels do differ
    assert diff[..., margin - 1, margin:-margin].max() > 1e-5  # the full margin, not less


def test_dtypes_and_device():
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(7))
    ref = imresize(x.double(), 0.5)
    for dtype, tol in [(torch.float32, 1e-6), (torch.float16, 5e-3), (torch.bfloat16, 2e-2)]:
        out = imresize(x.to(dtype), 0.5)
        assert out.dtype == dtype
        assert (out.double() - ref).abs().max() < tol
    if torch.cuda.is_available():
        assert torch.allclose(imresize(x.cuda(), 0.5).cpu(), ref.float(), atol=1e-5)


def test_uint8_is_two_rounded_passes():
    """MATLAB stores the first 1-D pass as uint8 (round half away from zero); the axis with smaller scale goes first."""
    g = torch.Generator().manual_seed(8)
    x = torch.randint(0, 256, (3, 24, 36), generator=g, dtype=torch.uint8)

    def rnd(t):
        return torch.floor(t + 0.5).clamp(0, 255)

    # Equal scales: height first, then width. Sizes divide exactly, so size=... gives the same factors as 1/3,
    # and a factor of 1 is an exact identity pass.
    h_first = rnd(imresize(rnd(imresize(x.double(), size=(8, 36))), size=(8, 12)))
    out = imresize(x, 1 / 3)
    assert out.dtype == torch.uint8 and torch.equal(out, h_first.to(torch.uint8))
    # Float input keeps full precision: within 1 grey level of the uint8 result but not identical.
    flt = imresize(x.double(), 1 / 3)
    assert (flt - out.double()).abs().max() < 1.5 and not torch.equal(rnd(flt), out.double())
    # Width has the smaller scale here, so it is resized first.
    w_first = rnd(imresize(rnd(imresize(x.double(), size=(24, 9))), size=(12, 9)))
    h_then_w = rnd(imresize(rnd(imresize(x.double(), size=(12, 36))), size=(12, 9)))
    out = imresize(x, (0.5, 0.25))
    assert torch.equal(out, w_first.to(torch.uint8)) and not torch.equal(out, h_then_w.to(torch.uint8))


def test_uint8_saturates():
    x = torch.zeros(16, 16, dtype=torch.uint8)
    x[:, 8:] = 255  # a hard edge: bicubic overshoots below 0 and above 255
    out = imresize(x, 1.5)
    flt = imresize(x.double(), 1.5)
    assert flt.min() < 0 and flt.max() > 255
    assert out.min() == 0 and out.max() == 255


def test_gradcheck():
    x = torch.rand(1, 2, 6, 7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: imresize(t, 0.5), (x,))
    assert torch.autograd.gradcheck(lambda t: imresize(t, size=(9, 5), border="replicate"), (x,))


# --------------------------------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"scale": 0}, ValueError),
        ({"scale": -0.5}, ValueError),
        ({"scale": float("nan")}, ValueError),
        ({"scale": (0.5, 0.5, 0.5)}, ValueError),
        ({"scale": "2"}, ValueError),
        ({}, ValueError),
        ({"scale": 0.5, "size": (4, 4)}, ValueError),
        ({"size": (4, 0)}, ValueError),
        ({"size": (4.0, 4)}, ValueError),
        ({"scale": 0.5, "border": "reflect"}, ValueError),
    ],
)
def test_bad_arguments(kwargs, error):
    with pytest.raises(error):
        imresize(torch.zeros(1, 1, 8, 8), **kwargs)


def test_bad_inputs():
    with pytest.raises(ValueError, match="shape"):
        imresize(torch.zeros(8), 0.5)
    with pytest.raises(ValueError, match="shape"):
        imresize(torch.zeros(1, 1, 1, 8, 8), 0.5)
    with pytest.raises(TypeError):
        imresize(torch.zeros(8, 8, dtype=torch.int32), 0.5)
    with pytest.raises(TypeError):
        imresize(np.zeros((8, 8)), 0.5)
    with pytest.raises(ValueError, match="empty"):
        imresize(torch.zeros(0, 8), 0.5)
