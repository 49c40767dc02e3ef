"""Write the student version of every chapter: the same notebook with the exercise solutions removed.

Built from the jupytext sources (``book/*.py``), following nbgrader's conventions so that an instructor can also feed
the chapters to nbgrader:

* a concept solution (a markdown ``{solution}`` directive) is removed;
* a runnable solution (the cells between ``{solution-start}`` and ``{solution-end}``) loses its explanation, and in its
  code cells the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` become ``# YOUR CODE HERE`` /
  ``raise NotImplementedError()``; the imports above and the checks (``assert``) below stay, so a student's answer is
  checked the same way the solution is;
* the exercise texts and everything before them are kept; an exercise directive becomes a plain Markdown heading
  and text, so it reads well in Jupyter without Sphinx.

Usage: python tools/make_assignments.py [--out _build/assignments] [--only 01 03]
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]
STUDENT_INTRO = ("## Exercises\n\nWrite your answer where a cell says `# YOUR CODE HERE` (delete the "
                 "`raise NotImplementedError()` line). The `assert` lines below it check your answer; the questions "
                 "without a code cell are for discussion.")


def _directive(cell) -> str | None:
    """The sphinx-exercise directive a markdown cell opens with (``solution``, ``solution-start``, ...), or None."""
    m = re.match(r"\s*(`{3,}|:{3,})\{(solution|solution-start|solution-end)\}", cell.source)
    return m.group(2) if cell.cell_type == "markdown" and m else None


def plain_exercise(source: str) -> str:
    r"""An ``{exercise}`` directive as plain Markdown (a heading and the text), readable in Jupyter without Sphinx.

    >>> print(plain_exercise("```{exercise} Width\n:label: ch1-w\n\nMeasure it.\n```"))
    ### Exercise: Width
    <BLANKLINE>
    Measure it.
    """
    m = re.fullmatch(r"\s*(`{3,})\{exercise\}[ \t]*(.*?)\n((?::[\w-]+:[^\n]*\n)*)\n?(.*?)\n\1\s*", source, re.S)
    if not m:
        return source
    return f"### Exercise: {m.group(2).strip()}\n\n{m.group(4).strip()}"


def strip_solution_code(source: str, where: str = "cell") -> str:
    """Replace every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` block of ``source`` by the nbgrader stub.

    >>> print(strip_solution_code("import x\\n### BEGIN SOLUTION\\ny = 2\\n### END SOLUTION\\nassert y == 2"))
    import x
    # YOUR CODE HERE
    raise NotImplementedError()
    assert y == 2
    """
    out, inside, found = [], False, False
    for line in source.split("\n"):
        if line.strip() == BEGIN:
            if inside:
                raise ValueError(f"{where}: nested {BEGIN}")
            inside, found = True, True
            indent = line[: len(line) - len(line.lstrip())]
            out += [indent + s for s in STUB]
        elif line.strip() == END:
            if not inside:
                raise ValueError(f"{where}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {BEGIN} without {END}")
    if not found:
        raise ValueError(f"{where}: a code cell inside a solution has no {BEGIN} block")
    return "\n".join(out)


def student_notebook(src: Path) -> nbformat.NotebookNode:
    """The student version of the chapter ``src`` (a jupytext ``.py``)."""
    nb = jupytext.read(src)
    cells, in_solution = [], False
    for k, cell in enumerate(nb.cells):
        kind = _directive(cell)
        if kind == "solution":
            continue
        if kind == "solution-start":
            if in_solution:
                raise ValueError(f"{src.name}: solution-start inside a solution (cell {k})")
            in_solution = True
            continue
        if kind == "solution-end":
            if not in_solution:
                raise ValueError(f"{src.name}: solution-end without solution-start (cell {k})")
            in_solution = False
            continue
        if in_solution and cell.cell_type == "markdown":
            continue
        if in_solution and cell.cell_type == "code":
            cell.source = strip_solution_code(cell.source, f"{src.name} cell {k}")
        if cell.cell_type == "markdown" and cell.source.startswith("## Exercises"):
            cell.source = STUDENT_INTRO
        if cell.cell_type == "markdown":
            cell.source = plain_exercise(cell.source)
        cells.append(cell)
    if in_solution:
        raise ValueError(f"{src.name}: solution-start without solution-end")
    nb.cells = cells
    return nb


def chapters(only: list[str] | None = None) -> list[Path]:
    """The chapter sources with exercises, in book order."""
    found = sorted(p for p in (ROOT / "book").glob("[0-9][0-9]_*.py") if "```{exercise}" in p.read_text())
    return [p for p in found if not only or p.name[:2] in only]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ROOT / "_build" / "assignments"), help="output folder")
    parser.add_argument("--only", nargs="*", default=None, help="chapter number prefixes, e.g. 01 03")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    srcs = chapters(args.only)
    if not srcs:
        print("no chapter with exercises matched", file=sys.stderr)
        return 2
    for src in srcs:
        nb = student_notebook(src)
        path = out / (src.stem + ".ipynb")
        nbformat.write(nb, path)
        n_ex = sum(c.source.startswith("### Exercise:") for c in nb.cells if c.cell_type == "markdown")
        n_stub = sum(STUB[1] in c.source for c in nb.cells if c.cell_type == "code")
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {n_ex} exercises, "
              f"{n_stub} to code")
    return 0


if __name__ == "__main__":
    sys.exit(main())
