# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Reproduction ledger
#
# Every figure and table of the two papers, where this book reproduces it, with which profile and checkpoint, our
# number beside the paper's where both exist, and a status:
#
# - **reproduced within seed spread**: our number agrees with the paper's within the spread of our seeds;
# - **shown qualitatively**: the figure is redrawn on the book's data, with no number to compare;
# - **differs**: the book measures something else, and the reason is given and measured in the chapter;
# - **needs a GPU or data not present**: the book shows the method, but the paper's setting needs more than this
#   machine or data that is not shipped.
#
# The rows are data in `srlib.ledger`; the numbers come from the zoo's manifest (re-scored in CI) and
# `srlib.published`, so this page cannot drift from what the checkpoints do.

# %% tags=["parameters"]
profile = "tiny"  # the ledger reads shipped data only; the profile is recorded, not used

# %%
import pandas as pd
from IPython.display import Markdown
from myst_nb import glue

from srlib.ledger import STATUSES, rows

pd.set_option("display.max_colwidth", None)
table = pd.DataFrame(rows())
counts = table["status"].value_counts().reindex(STATUSES, fill_value=0)
glue("ledger_counts", Markdown(f"Items per status, of {len(table)}: " + "; ".join(
    f"*{s}* {n}" for s, n in counts.items()) + "."), display=False)
counts.to_frame("items")

# %% [markdown]
# {glue:md}`ledger_counts`

# %%
def show(paper: str) -> Markdown:
    """The ledger rows of one paper as Markdown: what, where, status, the numbers side by side, and why."""
    lines = []
    for r in rows():
        if r["paper"] != paper:
            continue
        lines.append(f"**{r['item']}**: {r['shows']}. Section {r['where']}; {r['uses']}. Status: *{r['status']}*.")
        lines.append("")
        if r["ours"]:
            lines += [f"- ours: {r['ours']}", f"- paper: {r['paper_numbers']}"]
        lines += [f"- why: {r['why']}", ""]
    return Markdown("\n".join(lines))


# %% [markdown]
# ## DASR (Wang et al., CVPR 2021)

# %%
show("DASR")

# %% [markdown]
# ## USR-DU (Ning et al., IJCAI 2022)

# %%
show("USR-DU")
