"""Loading official DASR checkpoints: key/shape checks, precise diffs, scale inference, output equality."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from srlib.checkpoints import StateDictMismatch
from srlib.dasr.config import DASRConfig
from srlib.dasr.network import BlindSR
from srlib.dasr.official import DROPPED, infer_scale, load_official, read_key_list
from srlib.models import from_official


FIXTURE = Path(__file__).parent / "fixtures" / "dasr_state_dict_x4.txt"


def read_fixture() -> dict:
    return read_key_list(FIXTURE)


def fixture_state_dict(released: bool = True) -> dict:
    """A state dict with the official key list and random values of the listed shapes and dtypes."""
    g = torch.Generator().manual_seed(0)
    out = {}
    for key, (shape, dtype) in read_fixture().items():
        if released and any(s in key for s in DROPPED):
            continue
        if dtype == "int64":
            out[key] = torch.zeros(shape, dtype=torch.long)
        elif key.endswith("running_var"):
            out[key] = torch.rand(shape, generator=g) + 0.5
        else:
            out[key] = torch.randn(shape, generator=g) * 0.02
    return out


def released(model: BlindSR) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items() if not any(s in k for s in DROPPED)}


@pytest.fixture(scope="module")
def source_x4():
    torch.manual_seed(0)
    model = BlindSR(DASRConfig(scale=4))
    with torch.no_grad():  # non-trivial BN statistics so that eval-mode outputs depend on them
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


class TestLoadOfficial:
    def test_released_fixture_loads(self):
        sd = fixture_state_dict()
        assert len(sd) == 471
        model = load_official(sd, scale=4)
        assert not model.training
        torch.testing.assert_close(model.G.tail[1].weight, sd["G.tail.1.weight"])
        # key encoder initialised from the loaded query encoder
        torch.testing.assert_close(model.E.encoder_k.E[0].weight, sd["E.encoder_q.E.0.weight"])

    def test_full_fixture_loads(self):
        sd = fixture_state_dict(released=False)
        assert len(sd) == 519
        model = load_official(sd, scale=None)
        torch.testing.assert_close(model.E.queue, sd["E.queue"])

    def test_missing_key_named(self):
        sd = fixture_state_dict()
        del sd["G.body.2.body.3.da_conv2.ca.conv_du.0.weight"]
        with pytest.raises(StateDictMismatch, match=r"missing keys \(1\).*G\.body\.2\.body\.3\.da_conv2\.ca\.conv_du\.0\.weight"):
            load_official(sd)

    def test_extra_key_named(self):
        sd = fixture_state_dict()
        sd["G.extra.weight"] = torch.zeros(1)
        with pytest.raises(StateDictMismatch, match=r"unexpected keys \(1\).*G\.extra\.weight"):
            load_official(sd)
        load_official(sd, strict_keys=False)  # tolerated when asked

    def test_wrong_shape_named(self):
        sd = fixture_state_dict()
        sd["G.compress.0.weight"] = torch.zeros(64, 128)
        with pytest.raises(StateDictMismatch, match=r"G\.compress\.0\.weight: expected \(64, 256\), got \(64, 128\)"):
            load_official(sd, strict_keys=False)

    def test_half_full_layout_fails(self):
        sd = fixture_state_dict(released=False)
        del sd["E.queue_ptr"]
        with pytest.raises(StateDictMismatch, match="E.queue_ptr"):
            load_official(sd)

    def test_roundtrip_equals_source(self, source_x4, tmp_path):
        path = tmp_path / "model_600.pt"
        torch.save(released(source_x4), path)
        loaded = load_official(path, scale=None)
        lr = torch.rand(1, 3, 10, 12, generator=torch.Generator().manual_seed(3))
        with torch.no_grad():
            torch.testing.assert_close(loaded(lr), source_x4(lr), atol=1e-5, rtol=0)
        via_dispatcher = from_official("dasr", path)
        assert isinstance(via_dispatcher, BlindSR)

    @pytest.mark.parametrize("scale", [2, 3, 4])
    def test_infer_scale(self, scale):
        sd = released(BlindSR(DASRConfig(scale=scale, queue_size=8)))
        assert len(sd) == {2: 469, 3: 469, 4: 471}[scale]
        assert infer_scale(sd) == scale
        assert load_official(sd, scale=None).scale == scale

    def test_scale_disagreement(self):
        with pytest.raises(StateDictMismatch, match="x4"):
            load_official(fixture_state_dict(), scale=2)

    def test_not_a_dasr_checkpoint(self):
        with pytest.raises(StateDictMismatch, match="infer the scale"):
            load_official({"conv.weight": torch.zeros(1)}, scale=None)
