"""The paper tables kept as data have the papers' shapes (rows, columns, ranges)."""
import pytest

from srlib import published as P
from srlib.degradations.presets import TABLE3_KERNELS

SETS = ("Set5", "Set14", "B100", "Urban100")


def test_dasr_table1_shape():
    assert P.DASR_TABLE1["widths"] == (0.2, 1.0, 1.8, 2.6, 3.4)
    assert [f"Model {i}" for i in range(1, 6)] == [k for k in P.DASR_TABLE1["rows"] if k.startswith("Model")]
    assert all(len(v) == 5 and all(20 < x < 40 for x in v) for v in P.DASR_TABLE1["rows"].values())
    assert set(P.DASR_TABLE1["time"]) == set(P.DASR_TABLE1["rows"])


@pytest.mark.parametrize("scale, widths", [(2, (0.0, 0.6, 1.2, 1.8)), (3, (0.0, 0.8, 1.6, 2.4)),
                                           (4, (0.0, 1.2, 2.4, 3.6))])
def test_dasr_table2_shape(scale, widths):
    t = P.DASR_TABLE2[scale]
    assert t["widths"] == widths
    assert {"Bicubic", "RCAN", "SRMDNF + Predictor", "DASR"} <= set(t["rows"])
    for method, cells in t["rows"].items():
        assert tuple(cells) == SETS, method
        assert all(len(v) == 4 and all(20 < x < 40 for x in v) for v in cells.values()), method
    # the paper's own reading: DASR beats bicubic in every cell
    assert all(d > b for s in SETS for d, b in zip(t["rows"]["DASR"][s], t["rows"]["Bicubic"][s]))


def test_dasr_table2_bicubic_view_is_the_same_numbers():
    for scale, t in P.DASR_TABLE2.items():
        assert P.DASR_TABLE2_BICUBIC[scale]["widths"] == t["widths"]
        assert all(P.DASR_TABLE2_BICUBIC[scale][s] == t["rows"]["Bicubic"][s] for s in SETS)


def test_dasr_table3_shape():
    assert P.DASR_TABLE3["noise"] == (0, 5, 10)
    for method, rows in P.DASR_TABLE3["rows"].items():
        assert tuple(rows) == (0, 5, 10), method
        assert all(len(v) == len(TABLE3_KERNELS) == 9 for v in rows.values()), method
        assert all(a >= b for a, b in zip(rows[0], rows[10])), method  # noise never helps


def test_usrdu_tables_shape():
    assert sorted(P.USRDU_TABLE1) == [1, 2, 3, 4, 5]
    assert all(len(v) == 3 and 20 < v[0] < 30 and 0 < v[1] < 1 and 0 < v[2] < 1 for v in P.USRDU_TABLE1.values())
    assert P.USRDU_TABLE2["USR-DU"][:3] == P.USRDU_TABLE1[5]  # Table 2's Track 1 row is Table 1's situation 5
    assert all(len(v) == 4 for v in P.USRDU_TABLE2.values()) and P.USRDU_TABLE2["DAP"][3] is None
    assert all(len(v) == 3 for v in P.USRDU_TABLE3.values()) and "S.T. ESRGAN" in P.USRDU_TABLE3
