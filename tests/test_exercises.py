"""The book's exercises: every chapter has them, every runnable solution passes its own check, a wrong answer fails it,
and the student notebooks of `make assignments` carry no solution.

The runnable solutions are run here from the chapter sources, outside the chapters, so each must be self-contained
(its own imports, built-in images or zoo checkpoints only). They take a few seconds each.
"""
import re
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import make_assignments  # noqa: E402

sys.path.pop(0)

CHAPTERS = sorted((ROOT / "book").glob("0[1-7]_*.py"))
DIRECTIVE = re.compile(r"\s*`{3,}\{(exercise|solution|solution-start|solution-end)\}[ \t]*(.*)")


def parse(src: Path) -> dict:
    """Exercise labels, concept solutions and runnable solution code cells of one chapter."""
    nb = jupytext.read(src)
    exercises, concept, runnable, current = [], [], {}, None
    for cell in nb.cells:
        m = DIRECTIVE.match(cell.source) if cell.cell_type == "markdown" else None
        if m and m.group(1) == "exercise":
            exercises.append(re.search(r":label:\s*(\S+)", cell.source).group(1))
        elif m and m.group(1) == "solution":
            concept.append(m.group(2).strip())
        elif m and m.group(1) == "solution-start":
            current = m.group(2).strip()
            runnable[current] = []
        elif m and m.group(1) == "solution-end":
            current = None
        elif current and cell.cell_type == "code":
            runnable[current].append(cell.source)
    return {"exercises": exercises, "concept": concept, "runnable": runnable}


PARSED = {src.name[:2]: parse(src) for src in CHAPTERS}
RUNNABLE = [(ch, label, "\n\n".join(cells)) for ch, p in PARSED.items() for label, cells in p["runnable"].items()]

# One deliberately wrong answer per chapter: it replaces the solution block, and the check must catch it.
WRONG = {
    "ch1-border": """
counts = {s: (0, 0) for s in (2, 3, 4)}  # claims the border rules never differ
""",
    "ch2-infonce": """
import torch.nn.functional as F
code_loss = F.cross_entropy(logits, torch.zeros(16, dtype=torch.long))
paper_loss = code_loss  # the positive left in the denominator: the two losses become the same
gap = code_loss - paper_loss
""",
    "ch3-zero": """
with torch.no_grad():
    rep = net.represent(lr)
    sr = net.sr_from_representation(lr, torch.zeros_like(rep))  # the zero representation used for both
    sr_zero = sr
    whole = net(lr)
p = p_zero = float(psnr(sr.clamp(0, 1), hr, crop=4))
""",
    "ch4-width": """
counts = {"model2": inference_parameters(base), "model4": inference_parameters(base)}
widths = {"model2": base.n_feats, "model4": base.n_feats}  # Model 2 not rebuilt: same width as Model 4
""",
    "ch5-sampling": """
samples = torch.stack([sample_lr(y_g, theta, g) for _ in range(50)])
std = float((samples - y_g).std()) * 255 / 2 ** 0.5  # reads theta as a standard deviation: off by sqrt(2)
mean = float((samples - y_g).mean()) * 255
""",
    "ch6-saturation": """
grads = {form: (0.0, 1.0) for form in ("logits", "sigmoid")}  # claims both forms keep a gradient
""",
    "ch7-niqe": """
blurred = {s: niqe(hr) for s in (1, 2, 3)}
noisy = {n: niqe(hr) - n for n in (5, 10, 20)}  # NIQE falling with noise
""",
}


def replace_solution(code: str, wrong: str) -> str:
    a, b = code.index(make_assignments.BEGIN), code.index(make_assignments.END)
    return code[:a] + wrong.strip() + "\n" + code[b + len(make_assignments.END):]


@pytest.mark.parametrize("ch", sorted(PARSED))
def test_every_chapter_has_exercises_with_solutions(ch):
    p = PARSED[ch]
    assert len(p["exercises"]) >= 4, f"chapter {ch}: {len(p['exercises'])} exercises"
    solved = set(p["concept"]) | set(p["runnable"])
    assert solved == set(p["exercises"]), f"chapter {ch}: exercises without a solution: {set(p['exercises']) - solved}"
    assert len(p["runnable"]) >= 2, f"chapter {ch}: {len(p['runnable'])} runnable solutions"
    for label, cells in p["runnable"].items():
        code = "\n".join(cells)
        assert make_assignments.BEGIN in code and make_assignments.END in code, label
        assert "assert " in code.split(make_assignments.END)[-1], f"{label}: no check after the solution"


def test_labels_are_unique():
    labels = [lab for p in PARSED.values() for lab in p["exercises"]]
    assert len(labels) == len(set(labels))


@pytest.mark.parametrize("ch,label,code", RUNNABLE, ids=[lab for _, lab, _ in RUNNABLE])
def test_runnable_solution_passes_its_check(ch, label, code):
    exec(compile(code, f"<{label}>", "exec"), {"__name__": f"solution_{ch}"})


@pytest.mark.parametrize("label", sorted(WRONG))
def test_a_wrong_answer_fails_the_check(label):
    code = next(c for _, lab, c in RUNNABLE if lab == label)
    with pytest.raises(AssertionError):
        exec(compile(replace_solution(code, WRONG[label]), f"<wrong {label}>", "exec"), {"__name__": "wrong"})


def test_every_chapter_has_a_wrong_answer_test():
    chapters_with_wrong = {ch for ch, lab, _ in RUNNABLE if lab in WRONG}
    assert chapters_with_wrong == set(PARSED)


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    out = tmp_path_factory.mktemp("assignments")
    assert make_assignments.main(["--out", str(out)]) == 0
    return {p.name[:2]: nbformat.read(p, as_version=4) for p in sorted(out.glob("*.ipynb"))}


def test_student_notebooks_carry_no_solution(student):
    assert sorted(student) == sorted(PARSED)
    for src in CHAPTERS:
        ch = src.name[:2]
        text = "\n".join(c.source for c in student[ch].cells)
        start = next(i for i, c in enumerate(student[ch].cells) if c.source.startswith("## Exercises"))
        exercise_part = "\n".join(c.source for c in student[ch].cells[start:])
        nb = jupytext.read(src)
        in_solution = False
        for cell in nb.cells:
            m = DIRECTIVE.match(cell.source) if cell.cell_type == "markdown" else None
            kind = m.group(1) if m else None
            if kind == "solution-start":
                in_solution = True
            if kind == "solution-end":
                in_solution = False
            if kind in ("solution", "solution-start") or (in_solution and cell.cell_type == "markdown"):
                for line in cell.source.split("\n")[2:]:  # the explanation, past the directive line
                    if len(line.strip()) > 20:
                        assert line.strip() not in exercise_part, f"chapter {ch}: solution text survives: {line!r}"
            if in_solution and cell.cell_type == "code":
                body = cell.source.split(make_assignments.BEGIN)[1].split(make_assignments.END)[0]
                for line in body.split("\n"):
                    if len(line.strip()) > 12 and not line.strip().startswith("#"):
                        assert line.strip() not in exercise_part, f"chapter {ch}: solution code survives: {line!r}"
        assert "{solution" not in text and make_assignments.BEGIN not in text
        code = "\n".join(c.source for c in student[ch].cells if c.cell_type == "code")
        assert code.count("raise NotImplementedError()") == len(PARSED[ch]["runnable"])
        assert text.count("### Exercise:") == len(PARSED[ch]["exercises"])


def test_student_stub_fails_until_answered(student):
    """A stub cell raises NotImplementedError, the nbgrader convention, instead of passing its check by accident."""
    cell = next(c for c in student["07"].cells if c.cell_type == "code" and "NotImplementedError" in c.source)
    with pytest.raises(NotImplementedError):
        exec(compile(cell.source, "<stub>", "exec"), {"__name__": "student"})


def test_student_notebook_executes_up_to_the_first_exercise(student, tmp_path):
    """Chapter 1's student version runs, at tiny, every cell before its first exercise."""
    from nbclient import NotebookClient

    nb = student["01"]
    first = next(i for i, c in enumerate(nb.cells) if c.source.startswith("### Exercise:"))
    nb.cells = nb.cells[:first]
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors


def test_grader_reports_each_exercise(tmp_path):
    """tools/grade_assignments.py runs a submission and tells passed, not answered, failed check and discussion."""
    sys.path.insert(0, str(ROOT / "tools"))
    import grade_assignments

    sys.path.pop(0)
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook(cells=[
        code("x = 1"),
        md("### Exercise: Right\n\ntext"), code("y = x + 1\nassert y == 2"),
        md("### Exercise: Stub\n\ntext"), code("# YOUR CODE HERE\nraise NotImplementedError()\nassert z == 3"),
        md("### Exercise: Wrong\n\ntext"), code("z = 4\nassert z == 3, 'z should be 3'"),
        md("### Exercise: Talk\n\ntext"), md("## Paper vs. code"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "sub.ipynb"
    nbformat.write(nb, path)
    results = {r["exercise"]: r["result"] for r in grade_assignments.grade(path, timeout=60)}
    assert results == {"Right": "passed", "Stub": "not answered", "Wrong": "check failed: z should be 3",
                       "Talk": "discussion"}
