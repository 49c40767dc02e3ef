"""Every shipped checkpoint is re-scored on Set5 and Set14 and must reproduce its manifest's numbers (issue 14).

The manifest (``srlib/weights/manifest.json``) is written by ``benchmarks/bench_zoo.py --install`` with
:func:`srlib.zoo_eval.evaluate_entry`; this test runs the same function on the same files and compares every number to
:data:`srlib.zoo_eval.TOLERANCE_DB`, so a checkpoint cannot claim what it does not do. Needs ``$SRLIB_DATA``.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from srlib import zoo
from srlib.zoo_eval import SETS, TOLERANCE_DB, evaluate_entry

RECORDS = zoo.manifest_records()


def _have_sets() -> bool:
    root = os.environ.get("SRLIB_DATA")
    return bool(root) and all((Path(root) / "benchmark" / s / "HR").is_dir() for s in SETS)


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}/"))
        else:
            out[f"{prefix}{k}"] = v
    return out


@pytest.mark.skipif(not RECORDS, reason="no shipped manifest (srlib/weights/manifest.json)")
@pytest.mark.skipif(not _have_sets(), reason="needs $SRLIB_DATA with benchmark/Set5 and benchmark/Set14")
@pytest.mark.parametrize("name", sorted(RECORDS))
def test_shipped_checkpoint_reproduces_its_manifest(name):
    rec = RECORDS[name]
    assert "metrics" in rec, f"{name}: the manifest has no metrics (run benchmarks/bench_zoo.py --install)"
    claimed = _flatten(rec["metrics"])
    measured = _flatten(evaluate_entry(name))
    assert sorted(claimed) == sorted(measured)
    off = {k: (claimed[k], measured[k]) for k in claimed if abs(claimed[k] - measured[k]) > TOLERANCE_DB}
    assert not off, f"{name}: manifest vs re-evaluation differ by more than {TOLERANCE_DB}: {off}"


@pytest.mark.skipif(not RECORDS, reason="no shipped manifest (srlib/weights/manifest.json)")
def test_manifest_records_provenance():
    for name, rec in RECORDS.items():
        for key in ("command", "seed", "data", "data_checksums", "git_commit", "machine", "wall_time_s", "metrics"):
            assert rec.get(key) not in (None, ""), f"{name}: manifest lacks {key}"
        assert rec["command"].startswith("srlib train "), rec["command"]
