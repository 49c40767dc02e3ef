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
# # For instructors
#
# This page is for teaching a course with the book. It gives the time each chapter took in the build that produced
# these pages, what each exercise trains, a suggested sequence for a 3-4 week module, and how to hand out and grade
# the exercises. The tables below are computed when the book is built, not typed; the code that makes them is in
# `book/09_instructor.py`.

# %% tags=["parameters"]
profile = "tiny"  # the profile make book passes to every page
times_file = "_build/chapter_times.json"  # written by tools/run_book.py after each chapter

# %% tags=["remove-cell"]
import json
import re
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display
from myst_nb import glue

pd.set_option("display.max_colwidth", None)  # the "trains" column in full

# %% [markdown]
# ## Run time per chapter
#
# `make book` executes every chapter with papermill and records its wall time and CPU time (the kernel and any worker
# processes it starts), in the table below. The CPU time is the steadier number: wall time also counts other jobs that
# shared the machine, which the load column shows. {glue:md}`instr_times`

# %% tags=["remove-input"]
times_path = Path(times_file)
times = json.loads(times_path.read_text()) if times_path.is_file() else {}
chapters = sorted(p for p in Path("book").glob("0[1-8]_*.py"))
rows = {}
for p in chapters:
    t = times.get(p.name)
    rows[p.stem] = ({"wall s": f"{t['wall_s']:.0f}", "CPU s": f"{t['cpu_s']:.0f}", "load": f"{t['load']:.1f}",
                     "profile": t["profile"], "status": t["status"].split(" (")[0]} if t else
                    {"wall s": "not run in this build", "CPU s": "", "load": "", "profile": "", "status": ""})
display(pd.DataFrame(rows).T)
measured = [times[p.name] for p in chapters if p.name in times]
if measured:
    m = measured[0]
    glue("instr_times", Markdown(
        f"In this build ({m['date']}, {m['machine']}, {m['cores']} cores, profile `{m['profile']}`) the chapters took "
        f"{sum(t['wall_s'] for t in measured) / 60:.0f} minutes of wall time and "
        f"{sum(t['cpu_s'] for t in measured) / 60:.0f} minutes of CPU time in all; the longest took "
        f"{max(t['wall_s'] for t in measured):.0f} s. A student laptop with {m['cores']} free cores of similar speed "
        "should take about the wall times below when nothing else runs (the load column shows how busy this machine "
        "was). Chapters load the zoo's checkpoints and train only their tiny models live, so students need no "
        "GPU."), display=False)
else:
    glue("instr_times", Markdown(f"No timing file ({times_file}) was found: run `make book` to measure them."),
         display=False)

# %% [markdown]
# ## What each exercise trains
#
# Every chapter has an Exercises section with at least four exercises, numbered through the book as on the chapter
# pages. *Coding* exercises have a code cell that ends in checks (asserts
# taken from the solution), so a student knows when an answer is right; *discussion* exercises have a written
# solution for the instructor and are best done in pairs or in class. The solutions are hidden behind a "Solution"
# button in the HTML.

# %% tags=["remove-input"]
SKILLS = {
    "ch1-border": "reading a degradation pipeline: where two implementations of one protocol differ",
    "ch1-width": "what a kernel parameter means, measured from the kernel itself",
    "ch1-poisson": "signal-dependent vs. white noise; what a spectrum averages away",
    "ch1-size": "predicting the direction of a protocol change before running it",
    "ch2-infonce": "deriving and checking the gap between a paper's loss and its code",
    "ch2-queue": "the MoCo queue as a data structure: order of update, keys and enqueue",
    "ch2-ridgecv": "leakage in cross-validation; grouping by source image",
    "ch2-momentum": "time scales of an exponential moving average against a training budget",
    "ch3-zero": "probing a conditional network by ablating its conditioning",
    "ch3-outside": "out-of-distribution evaluation, and checking a protocol against a reference",
    "ch3-tiles": "tiled inference and where global statistics must be computed",
    "ch3-small-sigma": "designing a measurement: spread against effect size",
    "ch4-width": "fair ablations: matching parameter counts",
    "ch4-oracle": "what an oracle baseline can and cannot see",
    "ch4-model1": "reading an ablation definition precisely",
    "ch4-seeds": "seed noise, standard errors and when a difference is evidence",
    "ch5-optimum": "optimising a loss by hand: KL against likelihood",
    "ch5-sampling": "scale vs. standard deviation of a Laplace law",
    "ch5-l1": "how a loss term shapes what an uncertainty head learns",
    "ch5-real-gradient": "choosing the reference a correlation is measured against",
    "ch6-gradient": "inequalities between norms, checked numerically",
    "ch6-saturation": "numerical saturation of a GAN loss and its gradient",
    "ch6-online": "measuring a cost fairly: warm-up, ratios, same machine",
    "ch6-constant": "spatially varying vs. constant noise models",
    "ch7-bootstrap": "bootstrap confidence intervals and their dependence on n",
    "ch7-niqe": "what a no-reference metric responds to",
    "ch7-rgb": "metric conventions: Y vs. RGB PSNR",
    "ch7-table3": "separating the causes of a gap to a paper: model size against training distribution",
}
DIRECTIVE = re.compile(r"```\{exercise\}[ \t]*(.*)\n:label:[ \t]*(\S+)")
exercises = []
for p in chapters:
    text = p.read_text()
    for title, label in DIRECTIVE.findall(text.replace("\n# ", "\n").replace("\n#\n", "\n\n")):
        runnable = f"{{solution-start}} {label}" in text
        exercises.append({"chapter": p.stem[:2], "exercise": len(exercises) + 1, "title": title.strip(), "label": label,
                          "kind": "coding, checked" if runnable else "discussion", "trains": SKILLS.get(label, "")})
ex = pd.DataFrame(exercises)
missing = sorted(set(ex["label"]) - set(SKILLS)) + sorted(set(SKILLS) - set(ex["label"]))
assert not missing, f"SKILLS and the chapters' exercises disagree: {missing}"
counts = ex.groupby("chapter")["kind"].value_counts().unstack(fill_value=0)
glue("instr_counts", Markdown(
    f"{len(ex)} exercises in {ex['chapter'].nunique()} chapters, {int((ex['kind'] != 'discussion').sum())} of them "
    f"coding exercises with checked solutions (at least {int(counts.get('coding, checked', 0).min())} per chapter)."),
    display=False)
display(ex.drop(columns="label").set_index(["chapter", "exercise"]))
number = dict(zip(ex["label"], ex["exercise"]))
WEEKS = [  # (week, chapters, lecture, homework: coding exercises, in class: discussion exercises)
    ("1", "1, 7.1", "degradation models; how SR is scored", ["ch1-border", "ch1-width"], ["ch1-poisson", "ch7-rgb"]),
    ("2", "2, 3", "contrastive degradation representations; DA convolutions",
     ["ch2-infonce", "ch2-queue", "ch3-zero"], ["ch2-ridgecv", "ch3-tiles"]),
    ("3", "4, 5", "ablations and seeds; degradation uncertainty", ["ch4-width", "ch5-optimum", "ch5-sampling"],
     ["ch4-seeds", "ch4-model1"]),
    ("4 (optional)", "6, 7, ledger", "training on sampled degradations; evaluation",
     ["ch6-gradient", "ch6-saturation", "ch7-bootstrap", "ch7-niqe"], ["ch6-constant", "ch7-table3"]),
]
assert all(lab in number for *_, hw, cls in WEEKS for lab in hw + cls), "the plan names an exercise that is gone"
plan = pd.DataFrame([{"week": w, "chapters": c, "lecture": lec,
                      "homework (coding)": ", ".join(str(number[lab]) for lab in hw),
                      "in class (discussion)": ", ".join(str(number[lab]) for lab in cls)}
                     for w, c, lec, hw, cls in WEEKS]).set_index("week")

# %% [markdown]
# {glue:md}`instr_counts`
#
# ## A 3-4 week module
#
# One chapter pair a week, each with a lecture on the paper section, a lab on the chapter at `tiny`, and its coding
# exercises as homework. The discussion exercises work as in-class questions.
#
# The plan below gives exercise numbers as on the chapter pages.

# %% tags=["remove-input"]
display(plan)

# %% [markdown]
# A final project fits the fourth week: pick a row of the reproduction ledger whose status is "differs" or "needs a
# GPU", state what would settle it, and run the cheapest experiment that moves it.
#
# ## Handing out the exercises
#
# ```
# make assignments
# ```
#
# writes one notebook per chapter to `_build/assignments/`, built from the same sources as the book
# (`tools/make_assignments.py`). In each, the written solutions are gone, and in every coding exercise the solution
# code between `### BEGIN SOLUTION` and `### END SOLUTION` is replaced by `# YOUR CODE HERE` and
# `raise NotImplementedError()`, nbgrader's convention; the imports above it and the checks below it stay. The exercise
# text names the variables the checks read. `tests/test_exercises.py` verifies that no solution survives and that
# every solution passes its own checks while a wrong answer fails them.
#
# Students run the notebook from the repository root after `make install` (or `pip install -e ".[book]"`): the
# cells before the exercises rebuild the chapter's state at `tiny` in the times above.
#
# ## Grading
#
# ```
# python tools/grade_assignments.py submissions/*.ipynb --csv grades.csv
# ```
#
# runs each submitted notebook top to bottom in its own kernel and reports, per exercise, *passed* (the checks
# held), *not answered* (the stub still raises), *check failed* (with the assertion message) or *error*. Discussion
# exercises are listed for grading by hand against the solutions in the HTML. The checks test properties of a correct
# answer (a bound, an identity, agreement with srlib within a tolerance), so a different correct approach also passes;
# read the code as well, since a check cannot tell a derivation from a copied constant. The chapter sources already
# use nbgrader's markers, so `nbgrader generate_assignment` also works if your course runs nbgrader.
