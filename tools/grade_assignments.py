"""Grade submitted student notebooks (from `make assignments`): run each one top to bottom and report every exercise.

The answer cell of an exercise is the first code cell after its "### Exercise:" heading. It ends in the checks of
the book's solution, so its outcome is the grade of the coding part:

* ``passed``: the cell ran and its checks held;
* ``not answered``: it still raises ``NotImplementedError`` (the stub);
* ``check failed``: an ``assert`` of the check failed;
* ``error``: any other exception (the message is shown).

Exercises without a code cell are discussion questions, listed as ``discussion``: grade them by hand against the
solutions of the instructor's build (the book's HTML). Each notebook runs in its own kernel, from the repository
root, so chapter paths resolve as in the book.

Usage: python tools/grade_assignments.py SUBMITTED.ipynb [...] [--csv grades.csv] [--timeout 900]
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def answer_cells(nb) -> list[tuple[str, int | None]]:
    """``(exercise title, index of its answer cell or None)`` for every exercise of a student notebook."""
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and cell.source.startswith("### Exercise:"):
            title = cell.source.split("\n", 1)[0][len("### Exercise:"):].strip()
            answer = None
            for j in range(i + 1, len(nb.cells)):
                if nb.cells[j].cell_type == "code":
                    answer = j
                    break
                if nb.cells[j].source.startswith(("### Exercise:", "## ")):
                    break
            out.append((title, answer))
    return out


def outcome(cell) -> str:
    """The grade of one executed answer cell."""
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if not errors:
        return "passed"
    name, value = errors[0].get("ename", ""), errors[0].get("evalue", "")
    if name == "NotImplementedError":
        return "not answered"
    if name == "AssertionError":
        return "check failed" + (f": {value}" if value else "")
    return f"error: {name}: {value}"[:200]


def grade(path: Path, timeout: int = 900) -> list[dict]:
    """Execute the notebook at ``path`` (errors allowed) and grade each exercise."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    return [{"notebook": path.name, "exercise": title,
             "result": "discussion" if idx is None else outcome(nb.cells[idx])}
            for title, idx in answer_cells(nb)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--csv", type=Path, help="also write the grades to this CSV file")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell (default 900)")
    args = parser.parse_args(argv)
    missing = [p for p in args.notebooks if not p.is_file()]
    if missing:
        print(f"no such notebook: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    rows = [row for p in args.notebooks for row in grade(p, args.timeout)]
    width = max(len(r["exercise"]) for r in rows) if rows else 10
    for r in rows:
        print(f"{r['notebook']}  {r['exercise']:<{width}}  {r['result']}")
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["notebook", "exercise", "result"])
            writer.writeheader()
            writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
