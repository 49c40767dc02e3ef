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

# %%
import pandas as pd
from IPython.display import Markdown
from myst_nb import glue

from srlib.ledger import STATUSES, rows

pd.set_option("display.max_colwidth", None)
table = pd.DataFrame(rows())
counts = table["status"].value_counts().reindex(STATUSES, fill_value=0)
glue("ledger_counts", Markdown(f"Of the {len(table)} items, " + ", ".join(
    f"{n} {'is' if n == 1 else 'are'} *{s}*" for s, n in counts.items()) + "."), display=False)
counts.to_frame("items")

# %% [markdown]
# {glue:md}`ledger_counts`

# %%
for paper, part in table.groupby("paper", sort=False):
    display(Markdown(f"### {paper}"))
    display(part.drop(columns=["paper"]).rename(columns={
        "item": "item", "shows": "what the paper shows", "where": "section", "uses": "profile / checkpoint",
        "ours": "ours", "paper_numbers": "paper", "status": "status", "why": "why"}).set_index("item"))
