"""srlib's error vocabulary: the expected failures a user can fix, each with the exit code ``srlib`` returns for it.

Library code raises these; :func:`srlib.cli.main` turns them into one line on stderr (``srlib: error: ...``) and a
distinct exit code, and shows a traceback only with ``--debug`` or ``SRLIB_DEBUG=1``. Each class also derives from
the built-in exception that callers would expect (``ValueError``, ``FileNotFoundError``, ``OSError``), so
``except ValueError`` keeps working around a library call.

========================  ====  =============================================================================
class                     exit  raised for
========================  ====  =============================================================================
:class:`UsageError`          2  a bad argument or option value (also argparse's own errors)
:class:`InputError`          3  an input image or tensor that cannot be used: missing, corrupt, unsupported
                                mode, NaN/Inf, out of range, wrong dtype or shape
:class:`CheckpointError`     4  a checkpoint that is missing, not a checkpoint, unsafe to load, of another model
                                kind or another scale, or a run folder that cannot be resumed
:class:`DataNotFound`        5  a benchmark or training data set that is not on this machine
:class:`OutputError`         6  an output that cannot be written: permission denied, read-only, would overwrite
                                an input, unknown extension
:class:`DiskFull`            7  no space left on the device while writing
(interrupted)              130  Ctrl-C; training runs save their state first
========================  ====  =============================================================================
"""
from __future__ import annotations

import errno


class SrlibError(Exception):
    """Base class of the failures srlib expects and explains; ``exit_code`` is what the CLI returns."""

    exit_code = 1


class UsageError(SrlibError, ValueError):
    """A bad argument or option value."""

    exit_code = 2


class InputError(SrlibError, ValueError):
    """An input image or tensor that cannot be used (missing, corrupt, unsupported, NaN/Inf, out of range)."""

    exit_code = 3


class CheckpointError(SrlibError, ValueError):
    """A checkpoint that is missing, not a checkpoint, unsafe, of another kind or scale; a run that cannot resume."""

    exit_code = 4


class DataNotFound(SrlibError, FileNotFoundError):
    """A data set that is not on this machine."""

    exit_code = 5


class OutputError(SrlibError, OSError):
    """An output that cannot be written."""

    exit_code = 6


class DiskFull(OutputError):
    """No space left on the device."""

    exit_code = 7


def explain_os_error(exc: OSError, action: str) -> SrlibError:
    """Turn an ``OSError`` met while ``action`` (e.g. ``"writing out.png"``) into the matching srlib error.

    >>> str(explain_os_error(OSError(errno.ENOSPC, "No space left on device"), "saving last.pt"))
    'no space left on device while saving last.pt'
    >>> type(explain_os_error(PermissionError(errno.EACCES, "denied"), "writing x.png")).__name__
    'OutputError'
    """
    if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
        return DiskFull(f"no space left on device while {action}")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return OutputError(f"permission denied while {action}")
    if exc.errno == errno.EROFS:
        return OutputError(f"read-only file system while {action}")
    return OutputError(f"{exc.strerror or exc} while {action}")
