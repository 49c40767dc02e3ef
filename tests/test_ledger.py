"""The reproduction ledger covers every figure and table the issue names, points at real sections, and takes its
numbers from the manifest."""
import json
import re
from pathlib import Path

from srlib import ledger

ROOT = Path(__file__).resolve().parents[1]
NEEDED = {("DASR", "Fig. 3"), ("DASR", "Fig. 4"), ("DASR", "Fig. 6"), ("DASR", "Table 1"), ("DASR", "Table 2"),
          ("DASR", "Table 3"), ("USR-DU", "Fig. 2"), ("USR-DU", "Fig. 6"), ("USR-DU", "Table 1"),
          ("USR-DU", "Table 2"), ("USR-DU", "Table 3")}


def _sections() -> set:
    heads = set()
    for p in (ROOT / "book").glob("0*.py"):
        heads |= set(re.findall(r"^# ## (\d+\.\d+) ", p.read_text(), flags=re.M))
    return heads


def test_every_item_once_with_a_valid_status():
    keys = [(i.paper, i.item) for i in ledger.LEDGER]
    assert set(keys) == NEEDED and len(keys) == len(set(keys))
    assert all(i.status in ledger.STATUSES and i.why for i in ledger.LEDGER)


def test_sections_exist_in_the_chapters():
    heads = _sections()
    for it in ledger.LEDGER:
        for sec in re.findall(r"\d+\.\d+", it.where):
            assert sec in heads, f"{it.paper} {it.item}: no section {sec} in book/"


def test_numbers_come_from_the_manifest(tmp_path):
    real = json.loads((ROOT / "srlib" / "weights" / "manifest.json").read_text())
    real["entries"]["dasr-small-x4-model4"]["metrics"]["Set5"]["sigma=0"]["psnr"] = 12.345
    (tmp_path / "m.json").write_text(json.dumps(real))
    row = next(r for r in ledger.rows(tmp_path / "m.json") if (r["paper"], r["item"]) == ("DASR", "Table 2"))
    assert row["ours"].startswith("Set5 x4: 12.35 /")
    assert row["paper_numbers"].startswith("Set5 x4: 31.99")


def test_without_a_manifest_rows_have_no_numbers(tmp_path):
    assert all(r["ours"] == "" for r in ledger.rows(tmp_path / "absent.json"))
