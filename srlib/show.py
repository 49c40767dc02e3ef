"""Show library source code inside the book.

Chapters never re-declare models: they import srlib and display the lines that matter with :func:`show_source`.
"""
from __future__ import annotations

import inspect
import textwrap


def source(obj, *, start: str | None = None, stop: str | None = None) -> str:
    """The source of a function, class or method, optionally cut between two marker substrings.

    Args:
        obj: anything :func:`inspect.getsource` accepts.
        start: keep lines from the first line containing this text (inclusive).
        stop: keep lines up to the first later line containing this text (inclusive).

    >>> print(source(source, start="def source", stop="-> str"))
    def source(obj, *, start: str | None = None, stop: str | None = None) -> str:
    """
    lines = textwrap.dedent(inspect.getsource(obj)).splitlines()
    if start is not None:
        idx = next((i for i, line in enumerate(lines) if start in line), None)
        if idx is None:
            raise ValueError(f"{start!r} not found in the source of {obj!r}")
        lines = lines[idx:]
    if stop is not None:
        idx = next((i for i, line in enumerate(lines) if stop in line), None)
        if idx is None:
            raise ValueError(f"{stop!r} not found in the source of {obj!r}")
        lines = lines[: idx + 1]
    return textwrap.dedent("\n".join(lines))  # an excerpt from a loop body reads flush left


def show_source(obj, *, start: str | None = None, stop: str | None = None):
    """Display the source of ``obj`` as a highlighted code block in a notebook (plain text elsewhere).

    Returns an ``IPython.display.Markdown`` object when IPython is available, else the source string.
    """
    text = source(obj, start=start, stop=stop)
    module = getattr(inspect.getmodule(obj), "__name__", "?")
    header = f"*`{module}.{getattr(obj, '__qualname__', obj)}`*\n\n"
    try:
        from IPython.display import Markdown
    except ImportError:  # pragma: no cover
        return text
    return Markdown(header + "```python\n" + text + "\n```")


#: Matplotlib sizes of the book's figures. The HTML scales a figure down to the page width (about 720 px), so a
#: 15-inch-wide figure drawn at 72 dpi shrinks by a third; at matplotlib's defaults (10 pt, legends 10 pt, and the
#: 7-8 pt the chapters used to ask for) its labels came out 5-7 px high.
BOOK_STYLE = {"font.size": 12, "axes.titlesize": 12, "axes.labelsize": 12, "xtick.labelsize": 11,
              "ytick.labelsize": 11, "legend.fontsize": 10.5, "figure.titlesize": 13}


def book_style() -> None:
    """Apply :data:`BOOK_STYLE` to matplotlib: the text sizes every chapter's figures use."""
    import matplotlib as mpl

    mpl.rcParams.update(BOOK_STYLE)
