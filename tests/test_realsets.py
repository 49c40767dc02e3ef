"""srlib.data.realsets: NTIRE 2020 and RealSR folders found, paired and cropped; wrong layouts refused in one line."""
import numpy as np
import pytest
from PIL import Image

from srlib.data.realsets import REAL_SETS, RealPairs, find_real_sets, score_real_set
from srlib.errors import InputError


def png(path, h, w, grey=False, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (h, w) if grey else (h, w, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return arr


@pytest.fixture
def root(tmp_path):
    t1 = tmp_path / "NTIRE2020_Track1"
    for n in ("0801", "0802"):
        png(t1 / "Corrupted-va-x" / f"{n}.png", 10, 12)
        png(t1 / "Corrupted-va-y" / f"{n}.png", 42, 49)  # larger than 4x and not a multiple of 4: cropped
    png(t1 / "Corrupted-va-x" / "0803.png", 10, 12)  # no HR: not a pair, left out
    png(tmp_path / "NTIRE2020_Track2" / "DPEDiphone-va" / "a.png", 9, 11, grey=True)
    rs = tmp_path / "RealSR(V3)"
    png(rs / "Canon" / "Test" / "4" / "Canon_001_LR4.png", 8, 8)
    png(rs / "Canon" / "Test" / "4" / "Canon_001_HR.png", 32, 32)
    png(rs / "Nikon" / "Test" / "4" / "Nikon_001_LR4.png", 8, 8)
    png(rs / "Nikon" / "Test" / "4" / "Nikon_001_HR.png", 32, 32)
    png(rs / "Canon" / "Test" / "2" / "Canon_001_LR2.png", 16, 16)
    png(rs / "Canon" / "Test" / "2" / "Canon_001_HR.png", 32, 32)
    return tmp_path


def test_finds_every_set_in_order(root):
    sets = find_real_sets([root])
    assert list(sets) == list(REAL_SETS)
    assert [len(v) for v in sets.values()] == [2, 1, 2]
    assert sets["NTIRE2020 Track 1"].paired and not sets["NTIRE2020 Track 2"].paired


def test_pairs_are_cropped_to_scale_times_lr(root):
    name, lr, hr = find_real_sets([root])["NTIRE2020 Track 1"][0]
    assert name == "0801" and lr.shape == (3, 10, 12) and hr.shape == (3, 40, 48)


def test_pixels_come_from_the_files(tmp_path):
    lr = png(tmp_path / "NTIRE2020_Track1" / "Corrupted-va-x" / "x.png", 4, 4, seed=1)
    hr = png(tmp_path / "NTIRE2020_Track1" / "Corrupted-va-y" / "x.png", 16, 16, seed=2)
    _, a, b = find_real_sets([tmp_path])["NTIRE2020 Track 1"][0]
    assert np.array_equal((a.permute(1, 2, 0) * 255).round().byte().numpy(), lr)
    assert np.array_equal((b.permute(1, 2, 0) * 255).round().byte().numpy(), hr)


def test_grey_lr_becomes_three_channels_and_has_no_hr(root):
    name, lr, hr = find_real_sets([root])["NTIRE2020 Track 2"][0]
    assert (name, lr.shape, hr) == ("a", (3, 9, 11), None)


def test_realsr_pairs_by_scene_name(root):
    names = [n for n, _, _ in find_real_sets([root])["RealSR x4"]]
    assert names == ["Canon_001", "Nikon_001"]
    x2 = find_real_sets([root], scale=2)
    assert list(x2) == ["RealSR x2"] and x2["RealSR x2"][0][2].shape == (3, 32, 32)


def test_slices_stay_lazy(root):
    s = find_real_sets([root])["NTIRE2020 Track 1"][:1]
    assert isinstance(s, RealPairs) and len(s) == 1 and s.paired


def test_first_root_wins_and_missing_roots_are_skipped(root, tmp_path_factory):
    other = tmp_path_factory.mktemp("other")
    png(other / "NTIRE2020_Track2" / "DPEDiphone-va" / "b.png", 9, 11)
    sets = find_real_sets([other / "absent", other, root])
    assert [n for n, _, _ in sets["NTIRE2020 Track 2"]] == ["b"]
    assert len(sets["NTIRE2020 Track 1"]) == 2


def test_lr_at_hr_size_is_refused(tmp_path):
    png(tmp_path / "RealSR(V3)" / "Canon" / "Test" / "4" / "Canon_002_LR4.png", 32, 32)
    png(tmp_path / "RealSR(V3)" / "Canon" / "Test" / "4" / "Canon_002_HR.png", 32, 32)
    with pytest.raises(InputError, match="RealSR version 3"):
        find_real_sets([tmp_path])["RealSR x4"][0]


def test_hr_too_small_is_refused(tmp_path):
    png(tmp_path / "NTIRE2020_Track1" / "Corrupted-va-x" / "x.png", 10, 10)
    png(tmp_path / "NTIRE2020_Track1" / "Corrupted-va-y" / "x.png", 30, 30)
    with pytest.raises(InputError, match="smaller than x4"):
        find_real_sets([tmp_path])["NTIRE2020 Track 1"][0]


def test_scores_paired_and_unpaired_sets(tmp_path):
    from srlib.evaluate import bicubic_upscaler, evaluate_pairs
    from srlib.niqe import niqe

    png(tmp_path / "NTIRE2020_Track1" / "Corrupted-va-x" / "x.png", 30, 52, seed=3)
    png(tmp_path / "NTIRE2020_Track1" / "Corrupted-va-y" / "x.png", 120, 208, seed=4)
    png(tmp_path / "NTIRE2020_Track2" / "DPEDiphone-va" / "y.png", 30, 52, seed=5)
    sets = find_real_sets([tmp_path])
    up = bicubic_upscaler(4)
    paired = score_real_set({"bicubic": up}, sets["NTIRE2020 Track 1"])
    ref = evaluate_pairs(up, list(sets["NTIRE2020 Track 1"]), niqe=True, lpips=False)
    assert paired["bicubic"]["PSNR"] == ref["psnr"] and paired["bicubic"]["NIQE"] == ref["niqe"]
    unpaired = score_real_set({"bicubic": up}, sets["NTIRE2020 Track 2"])
    _, lr, _ = sets["NTIRE2020 Track 2"][0]
    assert list(unpaired["bicubic"]) == ["NIQE"]
    assert unpaired["bicubic"]["NIQE"] == niqe(up(lr[None])[0].clamp(0, 1), crop=4)
