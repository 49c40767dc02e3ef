"""The model zoo: one registry of named weights, each with its file, size, checksum, origin, licence and purpose.

Three sources:

* ``shipped``: srlib's own ``small`` checkpoints, in ``srlib/weights/`` and listed in ``srlib/weights/manifest.json``
  (sha256, the command that trained them, seed, data, wall time, machine, metrics). Their sha256 is checked every
  time they are loaded.
* ``download``: the authors' DASR weights, fetched from ``LongguangWang/DASR`` at a fixed commit and verified by their
  git blob id (the repository publishes no sha256; the blob id pins the file's bytes just as well).
* ``manual``: the USR-DU authors' checkpoints, which live only on a file-hosting site that needs a browser. Their
  entries say where to get the file and where to put it.

Downloads go to :func:`cache_dir` (``$SRLIB_WEIGHTS``, default ``~/.cache/srlib/weights``), through a ``.part`` file
that is renamed only after verification. Every file is loaded with :func:`srlib.runs.load_checkpoint`
(``torch.load(weights_only=True)``): a downloaded file is never unpickled fully. ``srlib weights list`` and
``srlib weights get NAME`` (see :mod:`srlib.cli`) are the command line; ``load_upscaler("zoo:NAME")`` and
``load_model("zoo:NAME")`` (:mod:`srlib.models`) load an entry by name.
"""
from __future__ import annotations

import dataclasses
import importlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from srlib.data import download as _dl
from srlib.errors import CheckpointError, DataNotFound, UsageError

__all__ = ["ZooEntry", "WEIGHTS_DIR", "MANIFEST", "SOURCES", "cache_dir", "manifest", "manifest_records",
           "entries", "names", "entry", "is_available", "path", "get", "load", "git_blob_id", "sha256sum"]

#: Where the shipped checkpoints and their manifest live (inside the installed package).
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
MANIFEST = WEIGHTS_DIR / "manifest.json"
SOURCES = ("shipped", "download", "manual")
git_blob_id = _dl.git_blob_id
sha256sum = _dl.sha256sum


@dataclass(frozen=True)
class ZooEntry:
    """One named set of weights.

    Attributes:
        name: the zoo name (``srlib weights get NAME``, ``load_upscaler("zoo:NAME")``).
        kind: what :func:`srlib.models.detect_kind` calls the file (``srlib.dasr``, ``dasr-official``, ...).
        source: ``"shipped"`` (in the package), ``"download"`` (fetched and verified), ``"manual"`` (by hand).
        filename: the file's name in :data:`WEIGHTS_DIR` (shipped) or :func:`cache_dir` (download, manual).
        size: bytes, when known.
        sha256: hex sha256, when known (shipped entries).
        git_blob: git blob id, when known (files taken from a git repository at a fixed commit).
        url: where ``get`` downloads it from (download entries).
        origin: the paper and repository@commit it comes from, or the command that trained it.
        license: the licence the weights come under.
        purpose: what the book uses it for (one line).
        scale: the SR factor (the downscaling factor for a DSN).
        manual: for manual entries, where to get the file by hand and where to put it.
        approx_size: human-readable size when the exact one is unknown.
    """

    name: str
    kind: str
    source: str
    filename: str
    size: Optional[int]
    sha256: Optional[str]
    git_blob: Optional[str]
    url: Optional[str]
    origin: str
    license: str
    purpose: str
    scale: int
    manual: str = ""
    approx_size: str = ""

    def local_path(self) -> Path:
        """Where the file is (or will be) on this machine; it may not exist."""
        return (WEIGHTS_DIR if self.source == "shipped" else cache_dir()) / self.filename

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# ----------------------------------------------------------------------------------------------- the static entries
_DASR_REPO = "LongguangWang/DASR"
_DASR_COMMIT = "51524af8021c94a502ee002e135867a1b75dc7d0"
_DASR_PAPER = ("Wang et al., 'Unsupervised Degradation Representation Learning for Blind Super-Resolution', "
               "CVPR 2021")
_DASR_LICENSE = ("MIT (the LICENSE file of LongguangWang/DASR at that commit, copyright 2022 The Learning and Vision "
                 "Atelier (LAVA)); the weights are files of the same repository")


def _dasr(name: str, folder: str, scale: int, blob: str, approx: str, purpose: str) -> ZooEntry:
    rel = f"experiment/{folder}/model/model_600.pt"
    return ZooEntry(
        name=name, kind="dasr-official", source="download", filename=f"dasr_{folder}_model_600.pt", size=None,
        sha256=None, git_blob=blob, url=f"https://raw.githubusercontent.com/{_DASR_REPO}/{_DASR_COMMIT}/{rel}",
        origin=f"{_DASR_PAPER}; {_DASR_REPO}@{_DASR_COMMIT}:{rel} (epoch 600, trained on DF2K by the authors)",
        license=_DASR_LICENSE, purpose=purpose, scale=scale, approx_size=approx)


_USRDU_PAPER = ("Ning et al., 'Learning Degradation Uncertainty for Unsupervised Real-world Image Super-resolution', "
                "IJCAI 2022")
_USRDU_LICENSE = ("no licence file in QianNing0/USR-DU (all rights reserved by the authors); for research use")
_BAIDU = ("https://pan.baidu.com/s/1yfkWK-Kv5rWaqIEtfuOpDg?pwd=s9xl (extraction code s9xl; the link and code are "
          "in the README of github.com/QianNing0/USR-DU, check there if they have changed)")


def _usrdu_manual(remote: str, filename: str) -> str:
    return (f"The USR-DU authors share their checkpoints only on Baidu Pan (a browser, and often a Baidu account, is "
            f"needed; there is no direct URL and no published checksum). Open {_BAIDU}, download "
            f"Checkpoint/{remote} and save it in the srlib weights cache ($SRLIB_WEIGHTS, default "
            f"~/.cache/srlib/weights) under the exact name {filename}. srlib then loads it with weights_only=True "
            f"and checks every key and shape; it cannot verify the bytes.")


_STATIC = {e.name: e for e in (
    _dasr("dasr-official-x2-iso", "blindsr_x2_bicubic_iso", 2, "a55bb07df7bf1ff641f6d6e36d3147e9f1b43c6a", "23 MB",
          "the authors' DASR x2, isotropic Gaussian blur: Table 2 (x2) cells beside the paper's numbers"),
    _dasr("dasr-official-x3-iso", "blindsr_x3_bicubic_iso", 3, "164b809eba7034ab8f8c27d90ffc33c0895ac44b", "24 MB",
          "the authors' DASR x3, isotropic Gaussian blur: Table 2 (x3) cells beside the paper's numbers"),
    _dasr("dasr-official-x4-iso", "blindsr_x4_bicubic_iso", 4, "b2db203d019d1ea5e484d0ddb3f44144c2987684", "24 MB",
          "the authors' DASR x4, isotropic Gaussian blur: Table 2 (x4) cells and Fig. 3 with the authors' encoder"),
    _dasr("dasr-official-x4-aniso", "blindsr_x4_bicubic_aniso", 4, "f772b1a47f7ba2a374758593b8c3ef6a479da58d",
          "24 MB", "the authors' DASR x4, anisotropic Gaussian blur and noise: the Table 3 setting"),
    ZooEntry(name="usrdu-official-dsn", kind="usrdu-dsn-official", source="manual",
             filename="usrdu_track1_training_down_0420.pth", size=None, sha256=None, git_blob=None, url=None,
             origin=f"{_USRDU_PAPER}; QianNing0/USR-DU README: Checkpoint/track1/DSN/training_down_0420.pth "
                    "(NTIRE 2020 Track 1 DSN, epoch 420)",
             license=_USRDU_LICENSE, scale=4,
             purpose="the authors' USR-DU downsampling network (Track 1, epoch 420): their y_g and theta maps",
             manual=_usrdu_manual("track1/DSN/training_down_0420.pth", "usrdu_track1_training_down_0420.pth")),
    ZooEntry(name="usrdu-official-srn", kind="usrdu-srn-official", source="manual",
             filename="usrdu_track1_net_g_18000.pth", size=None, sha256=None, git_blob=None, url=None,
             origin=f"{_USRDU_PAPER}; QianNing0/USR-DU README: Checkpoint/track1/SRN/net_g_18000.pth "
                    "(NTIRE 2020 Track 1 SR network, iteration 18000)",
             license=_USRDU_LICENSE, scale=4,
             purpose="the authors' USR-DU SR network (Track 1, iteration 18000): their results on real LR images",
             manual=_usrdu_manual("track1/SRN/net_g_18000.pth", "usrdu_track1_net_g_18000.pth")),
)}


# ------------------------------------------------------------------------------------------------- shipped manifest
def cache_dir() -> Path:
    """The folder downloaded and hand-placed weights live in: ``$SRLIB_WEIGHTS``, else ``~/.cache/srlib/weights``."""
    env = os.environ.get("SRLIB_WEIGHTS")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "srlib" / "weights"


def manifest() -> dict:
    """The shipped manifest (``srlib/weights/manifest.json``) as it is on disk; ``{}`` when there is none.

    Raises:
        CheckpointError: the file is not valid JSON or not a JSON object.
    """
    if not MANIFEST.is_file():
        return {}
    try:
        data = json.loads(MANIFEST.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{MANIFEST} is not valid JSON ({exc}); reinstall srlib") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{MANIFEST} holds a {type(data).__name__}, expected a JSON object; reinstall srlib")
    return data


def manifest_records(data: Optional[dict] = None) -> dict:
    """``{name: record}`` of a manifest (default: the shipped one): its top-level objects that have a ``"file"`` (or
    those under ``"entries"`` / ``"checkpoints"``, if the manifest nests them); other top-level keys are ignored."""
    data = manifest() if data is None else data
    for key in ("entries", "checkpoints"):
        if isinstance(data.get(key), dict):
            data = data[key]
            break
    return {k: v for k, v in data.items() if isinstance(v, dict) and "file" in v}


def _shipped_entry(name: str, rec: dict) -> ZooEntry:
    missing = [k for k in ("file", "sha256", "kind", "scale") if rec.get(k) in (None, "")]
    if missing:
        raise CheckpointError(f"{MANIFEST}: entry {name!r} lacks {', '.join(missing)}; reinstall srlib")
    cmd = rec.get("command")
    bits = [f"trained by srlib: `{cmd}`" if cmd else "trained by srlib"]
    for key, fmt in (("seed", "seed {}"), ("data", "data {}"), ("git_commit", "git {}"), ("machine", "on {}")):
        if rec.get(key) not in (None, ""):
            bits.append(fmt.format(rec[key]))
    if isinstance(rec.get("wall_time_s"), (int, float)):
        bits.append(f"{rec['wall_time_s'] / 60:.0f} min")
    size = rec.get("size")
    return ZooEntry(name=name, kind=str(rec["kind"]), source="shipped", filename=str(rec["file"]),
                    size=int(size) if isinstance(size, int) else None, sha256=str(rec["sha256"]).lower(),
                    git_blob=rec.get("git_blob"), url=None, origin=", ".join(bits),
                    license=str(rec.get("license") or "MIT (srlib)"), purpose=str(rec.get("purpose") or ""),
                    scale=int(rec["scale"]), manual="")


def entries() -> dict:
    """Every entry, ``{name: ZooEntry}``: the static ones plus those of the shipped manifest."""
    out = dict(_STATIC)
    for name, rec in manifest_records(manifest()).items():
        if name in out:
            raise CheckpointError(f"{MANIFEST}: entry {name!r} clashes with a built-in zoo entry; reinstall srlib")
        out[name] = _shipped_entry(name, rec)
    return out


def names() -> list:
    """Every entry name, sorted."""
    return sorted(entries())


def entry(name: str) -> ZooEntry:
    """The entry called ``name``.

    Raises:
        UsageError: no such entry (the message lists the names).
    """
    if isinstance(name, str) and name.startswith("zoo:"):
        name = name[4:]
    found = entries().get(name)
    if found is None:
        raise UsageError(f"no zoo entry {name!r}; known: {', '.join(names())} (see `srlib weights list`)")
    return found


# ----------------------------------------------------------------------------------------------- local files, checks
_VERIFIED: dict = {}  # (path, size, mtime_ns, expected) -> True: a file once checked is not hashed again


def _check(e: ZooEntry, file: Path) -> None:
    """Verify ``file`` against the entry's checksums (sha256 and/or git blob id); CheckpointError on a mismatch."""
    st = file.stat()
    for algorithm, expected, digest_of in (("sha256", e.sha256, sha256sum), ("git blob id", e.git_blob, git_blob_id)):
        if not expected:
            continue
        key = (str(file), st.st_size, st.st_mtime_ns, expected)
        if _VERIFIED.get(key):
            continue
        actual = digest_of(file)
        if actual != expected.lower():
            fix = ("reinstall srlib (the shipped file was changed)" if e.source == "shipped"
                   else f"delete it and run `srlib weights get {e.name}`")
            raise CheckpointError(f"zoo:{e.name}: {file} has {algorithm} {actual}, expected {expected}; {fix}")
        _VERIFIED[key] = True


def is_available(name: str) -> bool:
    """Whether the entry's file is on this machine and verified (shipped, or downloaded / placed by hand)."""
    e = entry(name)
    file = e.local_path()
    if not file.is_file():
        return False
    try:
        _check(e, file)
    except CheckpointError:
        return False
    return True


def path(name: str) -> Path:
    """The local file of entry ``name``, verified against its checksum.

    Raises:
        UsageError: unknown name.
        DataNotFound: not on this machine (the message says to run ``srlib weights get NAME``, or how to get a
            manual entry by hand).
        CheckpointError: a shipped file is missing, or a file does not match its checksum.
    """
    e = entry(name)
    file = e.local_path()
    if not file.is_file():
        if e.source == "shipped":
            raise CheckpointError(f"zoo:{e.name}: the shipped file {file} is missing; reinstall srlib")
        if e.source == "manual":
            raise DataNotFound(_manual_message(e))
        raise DataNotFound(f"zoo:{e.name} is not downloaded yet (no {file}); run `srlib weights get {e.name}` "
                           f"(about {e.approx_size or 'a few MB'} from {e.url})")
    _check(e, file)
    return file


def _manual_message(e: ZooEntry) -> str:
    return (f"zoo:{e.name} must be downloaded by hand. {e.manual} Expected file: {cache_dir() / e.filename}")


def get(name: str, progress: bool = True) -> Path:
    """Make entry ``name`` available and return its file: download and verify it (download entries), check it
    (shipped), or say how to get it by hand (manual).

    Raises:
        UsageError: unknown name.
        DataNotFound: a manual entry that is not in the cache yet (the message says where to get it and where to put
            it), or a failed download (network; the message says how to download by hand, a partial file is resumed
            on the next try).
        CheckpointError: the downloaded file has the wrong git blob id (it is deleted; the message gives expected and
            actual), or a local file does not match its checksum.
    """
    e = entry(name)
    if e.source != "download":
        return path(name)
    dest = e.local_path()
    if dest.is_file():
        return path(name)
    try:
        _dl.download(e.url, dest, sha256=e.sha256, size=e.size, git_blob=e.git_blob, quiet=not progress)
    except _dl.ChecksumError as exc:
        raise CheckpointError(f"zoo:{e.name}: the download from {e.url} has {exc.algorithm} {exc.actual}, expected "
                              f"{exc.expected}; the file was deleted. Run `srlib weights get {e.name}` again; if it "
                              "keeps failing, the file at that URL has changed") from None
    return path(name)


def load(name: str, device=None):
    """Load entry ``name`` through the safe path and return a :class:`srlib.models.LoadedModel` (eval mode; on the CPU
    unless ``device`` is given).

    Raises:
        UsageError, DataNotFound, CheckpointError: see :func:`path`; CheckpointError also when the file is not the kind
            of model the entry says.
    """
    # srlib.models resolves "zoo:NAME" through this module, so the zoo sits below it: reach the loader at call time.
    models = importlib.import_module("srlib.models")
    e = entry(name)
    loaded = models.load_model(path(name))
    if e.kind in models.KINDS and loaded.kind != e.kind:
        raise CheckpointError(f"zoo:{e.name}: {path(name)} is {models.KINDS[loaded.kind]}, but the zoo lists it as "
                              f"{e.kind!r}")
    model = loaded.model if device is None else loaded.model.to(device)
    return loaded._replace(model=model.eval(), source=f"zoo:{e.name} ({loaded.source})")
