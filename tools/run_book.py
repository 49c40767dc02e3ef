"""Execute every chapter of the book with papermill and print a timing table.

Chapters are jupytext py:percent sources (``book/NN_name.py``). Each is converted to ``book/NN_name.ipynb`` (a build
product, never committed) and executed in place with papermill, with ``profile`` injected into its ``parameters`` cell.
Jupyter Book then renders the executed notebooks with ``execute_notebooks: off``.

At ``profile=tiny`` every chapter has a time budget (3 minutes on a 2-core CPU by default); a chapter that fails or runs
over budget makes this script exit non-zero, so CI fails.

Usage: python tools/run_book.py [--profile tiny|paper] [--budget SECONDS] [--only 01 03]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import jupytext
import papermill
import yaml

ROOT = Path(__file__).resolve().parents[1]


def chapters_from_toc(toc_path: Path) -> list[Path]:
    """The chapter sources named in ``_toc.yml``, in order (only those with a ``.py`` source)."""
    toc = yaml.safe_load(toc_path.read_text())
    files: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return [ROOT / f"{f}.py" for f in files if (ROOT / f"{f}.py").is_file()]


def run_chapter(src: Path, profile: str) -> float:
    nb_path = src.with_suffix(".ipynb")
    notebook = jupytext.read(src)
    jupytext.write(notebook, nb_path)
    start = time.perf_counter()
    papermill.execute_notebook(
        str(nb_path),
        str(nb_path),
        parameters={"profile": profile},
        kernel_name="python3",
        cwd=str(ROOT),
        progress_bar=False,
        log_output=False,
        request_save_on_cell_execute=True,
    )
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="tiny", choices=("tiny", "paper"))
    parser.add_argument("--budget", type=float, default=180.0, help="seconds per chapter at profile=tiny")
    parser.add_argument("--only", nargs="*", default=None, help="chapter number prefixes to run, e.g. 01 03")
    args = parser.parse_args(argv)

    os.environ["SRLIB_PROFILE"] = args.profile
    chapters = chapters_from_toc(ROOT / "_toc.yml")
    if args.only:
        chapters = [c for c in chapters if any(c.name.startswith(p) for p in args.only)]
    if not chapters:
        print("no chapters found in _toc.yml", file=sys.stderr)
        return 1

    rows, failed = [], []
    for src in chapters:
        print(f"=== executing {src.relative_to(ROOT)} (profile={args.profile})", flush=True)
        try:
            seconds = run_chapter(src, args.profile)
            status = "ok"
            if args.profile == "tiny" and seconds > args.budget:
                status = f"OVER BUDGET ({args.budget:.0f} s)"
                failed.append(src.name)
        except Exception as exc:  # papermill raises PapermillExecutionError with the cell's traceback
            seconds, status = float("nan"), "FAILED"
            failed.append(src.name)
            print(exc, file=sys.stderr)
        rows.append((src.name, seconds, status))
        print(f"    {status} in {seconds:.1f} s", flush=True)

    width = max(len(r[0]) for r in rows)
    print(f"\nChapter timings (profile={args.profile}, {os.cpu_count()} CPU cores)")
    print(f"{'chapter':<{width}}  {'seconds':>8}  status")
    for name, seconds, status in rows:
        print(f"{name:<{width}}  {seconds:8.1f}  {status}")
    print(f"{'total':<{width}}  {sum(r[1] for r in rows if r[1] == r[1]):8.1f}")
    if failed:
        print(f"\n{len(failed)} chapter(s) failed or ran over budget: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
