"""srlib.cost: per-image time and added peak memory, measured in a child process."""
import pytest

from srlib.cost import inference_cost
from srlib.errors import UsageError


def test_bicubic_cost_has_the_output_shape_and_positive_numbers():
    r = inference_cost("bicubic", size=48, scale=3, repeats=2)
    assert r["output"] == [1, 3, 144, 144] and r["input"] == [1, 3, 48, 48]
    assert r["seconds"] > 0 and r["threads"] == 1
    assert r["peak_mib"] is None or r["peak_mib"] >= 0


def test_a_bigger_image_needs_more_memory():
    small = inference_cost("bicubic", size=32, repeats=1)["peak_mib"]
    big = inference_cost("bicubic", size=512, repeats=1)["peak_mib"]
    if small is None:
        pytest.skip("no /proc/self/clear_refs on this system: the peak cannot be isolated")
    assert big > small + 10  # a 2048x2048x3 float32 output alone is 48 MiB


@pytest.mark.parametrize("kw", [dict(size=0), dict(repeats=-1), dict(threads=True), dict(size=2.5)])
def test_bad_arguments_are_usage_errors(kw):
    with pytest.raises(UsageError):
        inference_cost("bicubic", **kw)


def test_a_failing_child_reports_its_error_line(tmp_path):
    with pytest.raises(UsageError, match="measuring .* failed: .*"):
        inference_cost(str(tmp_path / "missing.pt"), size=16, repeats=1)
