"""Execute every chapter of the book with papermill and print a timing table (wall and CPU time).

Chapters are jupytext py:percent sources (``book/NN_name.py``). Each is converted to ``book/NN_name.ipynb`` (a build
product, never committed) and executed in place with papermill, with ``profile`` injected into its ``parameters`` cell.
Jupyter Book then renders the executed notebooks with ``execute_notebooks: off``.

At ``profile=tiny`` every chapter has a time budget (3 minutes on a 2-core CPU by default). The budget is a reported
figure: the table shows each chapter's wall time, its CPU time (the papermill kernel and any worker processes it
started) and the machine's load, so a slow chapter can be told apart from a busy machine. The build fails only when a
chapter raises an error, or when its CPU time exceeds a generous multiple (``--fail-multiple``, 3 by default) of the
CPU-time budget, ``budget x cores`` of the target machine (``--cores``, 2): CPU time barely moves with the load of a
shared machine, wall time does.

Usage: python tools/run_book.py [--profile tiny|paper] [--budget SECONDS] [--fail-multiple X] [--cores N] [--only 01]
"""
from __future__ import annotations

import argparse
import math
import ast
import os
import sys
import time
from pathlib import Path

try:
    import resource  # Unix: CPU time of finished child processes
except ImportError:  # pragma: no cover - Windows: CPU time unknown, the rule falls back to wall time
    resource = None

import jupytext
import papermill
import yaml

from srlib.config import BOOK_PROFILES

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


def children_cpu_seconds() -> float:
    """User + system CPU seconds of every finished (and reaped) child process so far; NaN where unknown.

    The papermill kernel is a child process, reaped when its notebook finishes; its own children (for example a
    chapter's training workers) are included in its figure once it reaps them.
    """
    if resource is None:
        return math.nan
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load_average() -> float:
    """The 1-minute load average (runnable processes); NaN where the OS does not report it."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return math.nan


def judge(wall: float, cpu: float, *, budget: float | None, fail_multiple: float, cores: int = 1,
          error: bool = False) -> tuple:
    """The pass/fail rule of one chapter: ``(passed, status text)``.

    ``budget`` is wall seconds on a machine of ``cores`` cores, so the CPU-time budget is ``budget * cores`` (a
    chapter may keep both cores of the 2-core target busy). A chapter fails when it raised an error, or when its CPU
    time exceeds ``fail_multiple * budget * cores`` seconds (wall time against ``fail_multiple * budget`` where the
    CPU time is unknown, NaN). A wall time over ``budget`` alone is reported, never failed: on a shared machine it
    also counts the time other jobs held the cores. ``budget=None`` (profiles other than ``tiny``) checks errors only.

    >>> judge(95.0, 60.0, budget=180, fail_multiple=3)
    (True, 'ok')
    >>> judge(400.0, 150.0, budget=180, fail_multiple=3)
    (True, 'ok (wall time over the 180 s budget, CPU time within it: a busy machine)')
    >>> judge(700.0, 600.0, budget=180, fail_multiple=3)
    (False, 'FAILED: CPU time 600 s > 3 x 180 s budget')
    >>> judge(240.0, 430.0, budget=180, fail_multiple=3, cores=2)
    (True, 'ok (CPU time 430 s over the 180 s x 2 cores budget, under 3 x)')
    """
    if error:
        return False, "FAILED: error"
    if budget is None:
        return True, "ok"
    if math.isnan(cpu):
        used, what, allowed, label = wall, "wall time", budget, f"{budget:.0f} s"
    else:
        used, what = cpu, "CPU time"
        allowed, label = budget * cores, f"{budget:.0f} s" + (f" x {cores} cores" if cores > 1 else "")
    if used > fail_multiple * allowed:
        return False, f"FAILED: {what} {used:.0f} s > {fail_multiple:g} x {label} budget"
    if used > allowed:
        return True, f"ok ({what} {used:.0f} s over the {label} budget, under {fail_multiple:g} x)"
    if wall > budget:
        return True, f"ok (wall time over the {budget:.0f} s budget, CPU time within it: a busy machine)"
    return True, "ok"


def overrides(nb_path: Path, params: dict) -> dict:
    """The entries of ``params`` that differ from the defaults of the notebook's ``parameters`` cell.

    papermill adds an "injected-parameters" cell below the parameters cell for whatever it is given, and the book
    would show that cell in every chapter; passing only real overrides leaves the default build without one.
    """
    defaults = papermill.inspect_notebook(str(nb_path))
    out = {}
    for key, value in params.items():
        try:
            same = key in defaults and ast.literal_eval(defaults[key]["default"]) == value
        except (ValueError, SyntaxError):
            same = False
        if not same:
            out[key] = value
    return out


TIMES = ROOT / "_build" / "chapter_times.json"


def cpu_name() -> str:
    """The CPU model (Linux /proc/cpuinfo), else the platform's machine type."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def record_time(name: str, profile: str, wall: float, cpu: float, load: float, status: str, path: Path = TIMES) -> None:
    """Add one chapter's timing to ``path`` (JSON), written after every chapter so that a page executed later in the
    same build (the instructor page) can show the times of the run that produced the book."""
    import json

    data = json.loads(path.read_text()) if path.is_file() else {}
    data[name] = {"profile": profile, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "load": round(load, 2),
                  "status": status, "cores": os.cpu_count(), "machine": cpu_name(),
                  "date": time.strftime("%Y-%m-%d")}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))


def run_chapter(src: Path, profile: str) -> None:
    """Convert ``src`` to ``.ipynb`` beside it and execute it in place (raises papermill's error on a failing cell)."""
    nb_path = src.with_suffix(".ipynb")
    notebook = jupytext.read(src)
    jupytext.write(notebook, nb_path)
    papermill.execute_notebook(
        str(nb_path),
        str(nb_path),
        parameters=overrides(nb_path, {"profile": profile}),
        kernel_name="python3",
        cwd=str(ROOT),
        progress_bar=False,
        log_output=False,
        request_save_on_cell_execute=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="tiny", choices=BOOK_PROFILES)
    parser.add_argument("--budget", type=float, default=180.0,
                        help="reported time budget per chapter at profile=tiny, seconds (default 180)")
    parser.add_argument("--fail-multiple", type=float, default=3.0,
                        help="fail a chapter whose CPU time exceeds this multiple of the budget (default 3)")
    parser.add_argument("--cores", type=int, default=2,
                        help="cores of the machine the budget is meant for (default 2): the CPU-time budget is "
                             "budget x cores")
    parser.add_argument("--only", nargs="*", default=None, help="chapter number prefixes to run, e.g. 01 03")
    args = parser.parse_args(argv)
    if args.budget <= 0 or args.fail_multiple < 1:
        parser.error("--budget must be > 0 and --fail-multiple >= 1")
    if args.cores < 1:
        parser.error("--cores must be >= 1")
    budget = args.budget if args.profile == "tiny" else None

    os.environ["SRLIB_PROFILE"] = args.profile
    chapters = chapters_from_toc(ROOT / "_toc.yml")
    if args.only:
        chapters = [c for c in chapters if any(c.name.startswith(p) for p in args.only)]
    if not chapters:
        print("no chapters found in _toc.yml", file=sys.stderr)
        return 1

    rows, failed = [], []
    if not args.only:  # a whole build: the timing file describes this run only
        TIMES.unlink(missing_ok=True)
    for src in chapters:
        print(f"=== executing {src.relative_to(ROOT)} (profile={args.profile})", flush=True)
        cpu0, start, error = children_cpu_seconds(), time.perf_counter(), False
        try:
            run_chapter(src, args.profile)
        except Exception as exc:  # papermill raises PapermillExecutionError with the cell's traceback
            error = True
            print(exc, file=sys.stderr)
        wall, cpu, load = time.perf_counter() - start, children_cpu_seconds() - cpu0, load_average()
        passed, status = judge(wall, cpu, budget=budget, fail_multiple=args.fail_multiple, cores=args.cores,
                               error=error)
        if not passed:
            failed.append(src.name)
        rows.append((src.name, wall, cpu, load, status))
        print(f"    {status}: wall {wall:.1f} s, CPU {cpu:.1f} s, load {load:.2f}", flush=True)
        record_time(src.name, args.profile, wall, cpu, load, status)

    width = max(len(r[0]) for r in rows)
    print(f"\nChapter timings (profile={args.profile}, {os.cpu_count()} CPU cores)")
    if budget is not None:
        print(f"budget {budget:.0f} s per chapter on {args.cores} cores (reported); a chapter fails on an error or "
              f"when its CPU time exceeds {args.fail_multiple:g} x {budget:.0f} s x {args.cores} cores = "
              f"{args.fail_multiple * budget * args.cores:.0f} s")
    print(f"{'chapter':<{width}}  {'wall s':>8}  {'CPU s':>8}  {'load':>5}  status")
    for name, wall, cpu, load, status in rows:
        print(f"{name:<{width}}  {wall:8.1f}  {cpu:8.1f}  {load:5.2f}  {status}")
    print(f"{'total':<{width}}  {sum(r[1] for r in rows):8.1f}  {sum(r[2] for r in rows):8.1f}")
    print("load: 1-minute load average when the chapter ended; above the core count, other jobs shared the CPU "
          "and wall time exceeds CPU time")
    if failed:
        print(f"\n{len(failed)} chapter(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
