"""A small resumable HTTP downloader with sha256 or git-blob-id verification, and safe archive extraction (stdlib only).

Downloads go to ``<dest>.part`` first; a later call resumes it with an HTTP ``Range`` request (a server that ignores
the range gets the file again from the start). The file is renamed to ``dest`` only once complete and verified.
Every failure raises :class:`DownloadError` (a :class:`~srlib.errors.DataNotFound`: the data is not here) naming
the URL and where to put the file by hand; a full disk or a folder without write permission is reported as such
(:func:`srlib.errors.explain_os_error`), an unsafe archive as an :class:`~srlib.errors.InputError`.

Files kept in a git repository without a published sha256 (the authors' DASR weights, the SunHays80 photographs) are
verified by their **git blob id** instead (:func:`git_blob_id`): the SHA-1 that git itself names the file by, so the
id listed for a commit pins the file's bytes.
"""

import errno
import hashlib
import http.client
import shutil
import sys
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from typing import Optional

from srlib.errors import DataNotFound, InputError, explain_os_error

__all__ = ["DownloadError", "ChecksumError", "download", "extract", "sha256sum", "git_blob_id"]

_CHUNK = 1 << 20
#: OS errors of the local file system while downloading: reported as such, not as "offline?".
_LOCAL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS)


class DownloadError(DataNotFound, RuntimeError):
    """A file could not be downloaded; the message says how to get it by hand (exit code 5 in ``srlib``)."""


class ChecksumError(DownloadError):
    """A downloaded file does not have the expected sha256 or git blob id (``algorithm``, ``expected``, ``actual``)."""

    def __init__(self, message: str, *, algorithm: str = "sha256", expected: str = "", actual: str = ""):
        super().__init__(message)
        self.algorithm, self.expected, self.actual = algorithm, expected, actual


def sha256sum(path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def git_blob_id(path) -> str:
    """The git blob id of a file: hex SHA-1 of ``b"blob <size>\\0"`` followed by its bytes (``git hash-object``).

    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile(delete=False) as f:
    ...     _ = f.write(b"hello\\n")
    >>> git_blob_id(f.name)  # same as `echo hello | git hash-object --stdin`
    'ce013625030ba8dba906f756967f9e9ca394464a'
    >>> os.unlink(f.name)
    """
    path = Path(path)
    h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _by_hand(url: str, dest: Path) -> str:
    return (f"Download it by hand (e.g. `curl -L -C - -o {dest} {url}`) and place it at {dest}; "
            f"an interrupted download is kept as {dest.name}.part and resumed on the next try.")


def download(url: str, dest, *, sha256: Optional[str] = None, size: Optional[int] = None, timeout: float = 60.0,
             quiet: bool = False, git_blob: Optional[str] = None) -> Path:
    """Download ``url`` to ``dest``, resuming ``dest.part`` if present, and verify it.

    Args:
        url: http(s) URL.
        dest: destination file path (parent folders are created).
        sha256: expected hex digest, or None to skip verification (unknown checksum).
        size: expected size in bytes, or None.
        timeout: socket timeout in seconds.
        quiet: no progress output on stderr.
        git_blob: expected git blob id (:func:`git_blob_id`), for files that have no published sha256.

    Returns:
        ``dest``. An existing ``dest`` is verified and returned without downloading.

    Raises:
        DownloadError: network or HTTP failure (the partial file is kept for resuming), or a size mismatch.
        ChecksumError: the sha256 or git blob id does not match (a fresh download is deleted, an existing ``dest``
            is left alone and named in the message).
    """
    dest = Path(dest)
    if dest.is_file():
        _verify(dest, sha256, git_blob, url, delete=False)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    start = part.stat().st_size if part.is_file() else 0
    if size is not None and start > size:  # not a prefix of this file: start over
        part.unlink()
        start = 0
    headers = {"User-Agent": "srlib-downloader"}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as resp:
            resumed = start > 0 and resp.status == 206
            if not resumed:
                start = 0  # server ignored the range (200): rewrite from the beginning
            length = resp.headers.get("Content-Length")
            total = start + int(length) if length is not None else size
            with open(part, "ab" if resumed else "wb") as f:
                done = start
                next_report = 0.0
                for block in iter(lambda: resp.read(_CHUNK), b""):
                    f.write(block)
                    done += len(block)
                    if not quiet and total and done / total >= next_report:
                        print(f"\r{dest.name}: {done / 2**20:.1f} / {total / 2**20:.1f} MiB", end="", file=sys.stderr)
                        next_report += 0.05
            if not quiet:
                print(file=sys.stderr)
    except urllib.error.HTTPError as err:
        # 416 on a resume: the .part already holds the whole file (an earlier run stopped before renaming it).
        if not (err.code == 416 and start):
            raise DownloadError(f"could not download {url}: HTTP {err.code} {err.reason}. "
                                f"{_by_hand(url, dest)}") from err
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
        if isinstance(err, OSError) and err.errno in _LOCAL_ERRNOS:  # our disk, not the network
            raise explain_os_error(err, f"writing {part}") from None
        reason = getattr(err, "reason", err)
        raise DownloadError(f"could not download {url} ({reason}); offline? {_by_hand(url, dest)}") from err
    got = part.stat().st_size
    if size is not None and got != size:
        raise DownloadError(f"{url}: got {got} bytes, expected {size}; run again to resume. {_by_hand(url, dest)}")
    _verify(part, sha256, git_blob, url, delete=True)
    part.replace(dest)
    return dest


def _verify(path: Path, sha256: Optional[str], git_blob: Optional[str], url: str, *, delete: bool) -> None:
    for algorithm, expected, digest_of in (("sha256", sha256, sha256sum), ("git blob id", git_blob, git_blob_id)):
        if expected is None:
            continue
        digest = digest_of(path)
        if digest != expected.lower():
            if delete:
                path.unlink()
            raise ChecksumError(f"{path} (from {url}) has {algorithm} {digest}, expected {expected}"
                                + ("; the file was deleted, download again." if delete
                                   else "; delete it and try again."),
                                algorithm=algorithm, expected=expected, actual=digest)


def _check_member(name: str, archive: Path) -> None:
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts:
        raise InputError(f"{archive} contains an unsafe path {name!r}; not extracting it")


def extract(archive, dest) -> Path:
    """Extract a zip or tar (optionally gz/bz2/xz) archive into ``dest``; the type is read from the file itself.

    Members with absolute paths or ``..`` are refused; links in tar files are refused too.

    Returns:
        ``dest``.
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            for name in z.namelist():
                _check_member(name, archive)
            z.extractall(dest)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as t:
            members = t.getmembers()
            for m in members:
                _check_member(m.name, archive)
                if not (m.isfile() or m.isdir()):
                    raise InputError(f"{archive} contains a link or special file {m.name!r}; not extracting it")
            for m in members:  # extract file by file, without trusting the archive's metadata
                target = dest / m.name
                if m.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with t.extractfile(m) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, _CHUNK)
    else:
        raise InputError(f"{archive} is neither a zip nor a tar archive")
    return dest
