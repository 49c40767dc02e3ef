"""Registry of the real data sets that DASR and USR-DU train and test on, and ``fetch`` to get them.

``fetch(name, root)`` returns the data set's folder under ``root``; if it is not there yet it downloads the archives
into ``root/downloads/`` (resumable, sha256-verified where the checksum is known) and extracts them. Data sets kept as
loose files in a git repository (``SunHays80``) are fetched file by file straight into their folder, each verified by
its git blob id (:func:`srlib.data.download.git_blob_id`). Data sets that need a login or live on Google Drive / Baidu
cannot be fetched automatically: fetch raises an error that says where to get them and where to put them. The command
line ``python -m srlib.data.registry NAME...`` (``make data``, ``srlib data``) calls :func:`main`.

sha256 values are None where no published checksum is known; the downloader then checks only that the archive
extracts to the expected layout.
"""

import argparse
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from srlib.data.download import ChecksumError, DownloadError, download, extract

__all__ = ["RemoteFile", "DatasetSpec", "DATASETS", "ALIASES", "ManualDownloadRequired", "fetch", "main",
           "read_gitblobs", "gitblob_files"]


@dataclass(frozen=True)
class RemoteFile:
    """One archive (or one loose file). ``url=None`` means it cannot be downloaded automatically (login or a
    file-hosting site)."""

    filename: str
    url: Optional[str]
    sha256: Optional[str] = None
    size: Optional[int] = None  # exact bytes, when known
    approx_size: str = "?"  # human-readable
    git_blob: Optional[str] = None  # git blob id, for files taken from a git repository at a fixed commit


@dataclass(frozen=True)
class DatasetSpec:
    """A data set: its archives, where they are extracted (``root/extract_to``), the folder that must exist afterwards
    (``root/folder``, returned by :func:`fetch`), and a description of the layout.

    ``archives=False``: ``files`` are the data set's loose files, downloaded one by one into ``root/folder`` (no
    ``downloads/``, nothing extracted); the data set is present once every one of them is there.
    """

    name: str
    description: str
    homepage: str
    files: tuple
    extract_to: str
    folder: str
    layout: str
    archives: bool = True

    def present(self, root) -> bool:
        folder = Path(root) / self.folder
        if not self.archives:
            return all((folder / f.filename).is_file() for f in self.files)
        return folder.is_dir() and any(folder.iterdir())

    def manual_instructions(self, root) -> str:
        root = Path(root)
        lines = [f"{self.name}: {self.description}", f"  homepage: {self.homepage}"]
        if not self.archives:
            return "\n".join(lines + [
                f"  {len(self.files)} files, e.g. {self.files[0].url}" if self.files else "  no files listed",
                f"  put them in {root / self.folder} (or run fetch again: files already there are verified and kept, "
                f"an interrupted one is resumed)", f"  layout: {self.layout}"])
        for f in self.files:
            lines.append(f"  - {f.filename} ({f.approx_size}): {f.url or 'see the homepage'}"
                         f"{'' if f.url else ' (needs a browser / login)'}")
        lines += [f"  put the archives in {root / 'downloads'} and run fetch again, or extract them into "
                  f"{root / self.extract_to} so that {root / self.folder} exists.", f"  layout: {self.layout}"]
        return "\n".join(lines)


class ManualDownloadRequired(DownloadError):
    """The data set must be downloaded by hand; the message says from where and where to put it."""


_DIV2K = "http://data.vision.ee.ethz.ch/cvl/DIV2K/"
_EDSR = "https://cv.snu.ac.kr/research/EDSR/"
# EDSR's benchmark.tar holds Set5, Set14, B100 and Urban100 (+ LR_bicubic x2/x3/x4), ~250 MB; one download serves all.
_BENCHMARK = RemoteFile("benchmark.tar", _EDSR + "benchmark.tar", approx_size="250 MB")
_BENCH_LAYOUT = "benchmark/{set}/HR/<name>.png and benchmark/{set}/LR_bicubic/X{{2,3,4}}/<name>x{{s}}.png"
_NTIRE = ("NTIRE 2020 Real-World SR challenge (CodaLab, free registration): https://competitions.codalab.org/"
          "competitions/{}")
_ASSETS = Path(__file__).resolve().parent.parent / "assets"


def read_gitblobs(path) -> list:
    """``[(git_blob_id, filename), ...]`` from a listing with one ``<40 hex>  <filename>`` per line (``#`` comments).

    Raises:
        ValueError: a line that is not a blob id and a plain file name (the file names a line).
    """
    out = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        blob, _, name = line.strip().partition(" ")
        name = name.strip()
        if len(blob) != 40 or any(c not in "0123456789abcdef" for c in blob) or not name or "/" in name \
                or name in (".", ".."):
            raise ValueError(f"{path}:{n}: expected '<40 hex git blob id>  <file name>', got {line!r}")
        out.append((blob, name))
    return out


def gitblob_files(listing, base_url: str) -> tuple:
    """One :class:`RemoteFile` per ``(git_blob_id, filename)`` of ``listing``, at ``base_url`` + the quoted name."""
    return tuple(RemoteFile(name, base_url + urllib.parse.quote(name), git_blob=blob) for blob, name in listing)


# 80 scene photographs of Sun and Hays (ICCP 2012) as kept in a public GitHub repository at a fixed commit; the
# listing of their git blob ids ships with srlib (srlib/assets/SunHays80.gitblobs) and pins every file's bytes.
_SUNHAYS_REPO, _SUNHAYS_COMMIT = "majedelhelou/denoising_datasets", "58234876fef6f1b56306705c78dfd40cdb837b86"
_SUNHAYS_URL = f"https://raw.githubusercontent.com/{_SUNHAYS_REPO}/{_SUNHAYS_COMMIT}/CSun_Hays80/"

DATASETS = {s.name: s for s in (
    DatasetSpec("DIV2K_train_HR", "DIV2K training HR, 800 2K PNGs (0001-0800); DASR trains on DIV2K + Flickr2K",
                "https://data.vision.ee.ethz.ch/cvl/DIV2K/",
                (RemoteFile("DIV2K_train_HR.zip", _DIV2K + "DIV2K_train_HR.zip", approx_size="3.5 GB"),),
                "DIV2K", "DIV2K/DIV2K_train_HR", "DIV2K/DIV2K_train_HR/0001.png ... 0800.png"),
    DatasetSpec("DIV2K_valid_HR", "DIV2K validation HR, 100 2K PNGs (0801-0900)",
                "https://data.vision.ee.ethz.ch/cvl/DIV2K/",
                (RemoteFile("DIV2K_valid_HR.zip", _DIV2K + "DIV2K_valid_HR.zip", approx_size="430 MB"),),
                "DIV2K", "DIV2K/DIV2K_valid_HR", "DIV2K/DIV2K_valid_HR/0801.png ... 0900.png"),
    DatasetSpec("Flickr2K", "Flickr2K, 2650 2K PNGs (with EDSR's bicubic LR versions in the same archive)",
                "https://github.com/sanghyun-son/EDSR-PyTorch",
                (RemoteFile("Flickr2K.tar", _EDSR + "Flickr2K.tar", approx_size="20 GB"),),
                ".", "Flickr2K/Flickr2K_HR", "Flickr2K/Flickr2K_HR/000001.png ... 002650.png"),
    *(DatasetSpec(name, f"{name} benchmark ({n} images) in EDSR's benchmark layout",
                  "https://github.com/sanghyun-son/EDSR-PyTorch", (_BENCHMARK,), ".", f"benchmark/{name}/HR",
                  _BENCH_LAYOUT.format(set=name))
      for name, n in (("Set5", 5), ("Set14", 14), ("B100", 100), ("Urban100", 100))),
    DatasetSpec("RealSR_V3", "RealSR version 3 (Cai et al. 2019): Canon and Nikon HR/LR pairs at x2, x3, x4",
                "https://github.com/csjcai/RealSR (links to Google Drive / Baidu Pan)",
                (RemoteFile("RealSR(V3).zip", None, approx_size="5 GB"),),
                ".", "RealSR(V3)",
                "RealSR(V3)/{Canon,Nikon}/{Train,Test}/{2,3,4}/<scene>_HR.png, <scene>_LR{2,3,4}.png"),
    DatasetSpec("NTIRE2020_Track1", "RWSR Track 1: unknown corruptions; LR = corrupted Flickr2K, HR = DIV2K train, "
                "100 validation pairs (USR-DU Table 1)", _NTIRE.format(22220),
                tuple(RemoteFile(f"Corrupted-{p}.zip", None) for p in ("tr-x", "tr-y", "va-x", "va-y", "te-x")),
                "NTIRE2020_Track1", "NTIRE2020_Track1/Corrupted-tr-x",
                "NTIRE2020_Track1/Corrupted-{tr,va,te}-x/*.png (LR), Corrupted-{tr,va}-y/*.png (HR)"),
    DatasetSpec("NTIRE2020_Track2", "RWSR Track 2: smartphone images; LR = DPED iPhone 3GS photos, no ground truth "
                "(USR-DU reports NIQE)", _NTIRE.format(22221),
                tuple(RemoteFile(f"DPEDiphone-{p}.zip", None) for p in ("tr-x", "va", "crop-te-x")),
                "NTIRE2020_Track2", "NTIRE2020_Track2/DPEDiphone-tr-x",
                "NTIRE2020_Track2/DPEDiphone-tr-x/*.png (train LR), DPEDiphone-va/, "
                "DPEDiphone-crop-te-x/ (test crops)"),
    DatasetSpec("SunHays80", "80 natural scene photographs of Sun and Hays, 'Super-resolution from internet-scale "
                "scene matching' (ICCP 2012), JPEG, 680-1024 px; the CPU-scale training corpus of the `small` "
                f"profiles, verified file by file by git blob id ({_SUNHAYS_REPO} @ {_SUNHAYS_COMMIT[:7]})",
                f"https://github.com/{_SUNHAYS_REPO}/tree/{_SUNHAYS_COMMIT}/CSun_Hays80",
                gitblob_files(read_gitblobs(_ASSETS / "SunHays80.gitblobs"), _SUNHAYS_URL),
                "train", "train/SunHays80", "train/SunHays80/<scene>_sun_<id>.jpg (80 files)", archives=False),
    DatasetSpec("DPED", "DSLR Photo Enhancement Dataset (Ignatov et al. 2017): iPhone 3GS, BlackBerry, Sony patches "
                "aligned to Canon 70D", "http://people.ee.ethz.ch/~ihnatova/",
                # URL as cited by a third-party loader (a gzipped tar, whatever the name); not verified here.
                # extract() reads the archive type from the file, so the extension does not matter.
                (RemoteFile("dped.gz", "http://data.vision.ee.ethz.ch/ihnatova/public/dped/dped.gz",
                            approx_size="several GB"),),
                ".", "dped", "dped/{iphone,blackberry,sony}/{training_data,test_data}/{<phone>,canon}/*.jpg"),
)}

ALIASES = {
    "DIV2K": ("DIV2K_train_HR", "DIV2K_valid_HR"),
    "DF2K": ("DIV2K_train_HR", "Flickr2K"),
    "benchmark": ("Set5", "Set14", "B100", "Urban100"),
}


def _expand(names) -> list:
    out = []
    for n in names:
        for m in ALIASES.get(n, (n,)):
            if m not in DATASETS:
                raise KeyError(f"unknown data set {n!r}; known: {sorted(DATASETS)} and aliases {sorted(ALIASES)}")
            if m not in out:
                out.append(m)
    return out


def fetch(name: str, root="data", *, quiet: bool = False) -> Path:
    """Return ``root/<folder>`` of data set ``name``, downloading and extracting it first if needed.

    Archives already in ``root/downloads/`` (put there by hand, or by an earlier run) are used as they are.

    Raises:
        KeyError: unknown name.
        ManualDownloadRequired: the data set cannot be downloaded automatically and is not in ``root``.
        DownloadError: the download failed (the message names the URL and the folder for a manual download).
    """
    if name not in DATASETS:
        raise KeyError(f"unknown data set {name!r}; known: {sorted(DATASETS)} (aliases such as "
                       f"{sorted(ALIASES)} are for main())")
    spec = DATASETS[name]
    root = Path(root)
    if spec.present(root):
        return root / spec.folder
    if not spec.archives:
        return _fetch_files(spec, root, quiet)
    downloads = root / "downloads"
    missing = [f for f in spec.files if f.url is None and not (downloads / f.filename).is_file()]
    if missing:
        raise ManualDownloadRequired(f"{spec.name} cannot be downloaded automatically.\n"
                                     + spec.manual_instructions(root))
    for f in spec.files:
        if f.url is None:
            archive = downloads / f.filename  # placed by hand
        else:
            try:
                archive = download(f.url, downloads / f.filename, sha256=f.sha256, size=f.size, quiet=quiet)
            except DownloadError as err:
                raise DownloadError(f"{err}\n{spec.manual_instructions(root)}") from err
        if not quiet:
            print(f"extracting {archive} into {root / spec.extract_to}", file=sys.stderr)
        extract(archive, root / spec.extract_to)
    if not spec.present(root):
        raise DownloadError(f"{spec.name}: extracted the archives but {root / spec.folder} is missing or empty; "
                            f"the archive layout may have changed. Expected: {spec.layout}")
    return root / spec.folder


def _fetch_files(spec: DatasetSpec, root: Path, quiet: bool) -> Path:
    """Download the loose files of ``spec`` one by one into ``root/folder``, each verified (files already there are
    verified too, and kept)."""
    folder = root / spec.folder
    for i, f in enumerate(spec.files, 1):
        if f.url is None and not (folder / f.filename).is_file():
            raise ManualDownloadRequired(f"{spec.name}: {f.filename} cannot be downloaded automatically.\n"
                                         + spec.manual_instructions(root))
        if not quiet:
            print(f"\r{spec.name}: file {i}/{len(spec.files)} {f.filename}", end="", file=sys.stderr)
        try:
            download(f.url, folder / f.filename, sha256=f.sha256, size=f.size, git_blob=f.git_blob, quiet=True)
        except DownloadError as err:
            if not quiet:
                print(file=sys.stderr)
            msg = f"{err}\n{spec.manual_instructions(root)}"
            if isinstance(err, ChecksumError):
                raise ChecksumError(msg, algorithm=err.algorithm, expected=err.expected, actual=err.actual) from err
            raise DownloadError(msg) from err
    if not quiet:
        print(file=sys.stderr)
    return folder


def main(argv=None) -> int:
    """``python -m srlib.data.registry [--root data] [--list] NAME...``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="srlib data", description="Download real SR data sets into ROOT.")
    parser.add_argument("datasets", nargs="*", metavar="NAME",
                        help=f"data sets ({', '.join(DATASETS)}) or aliases ({', '.join(ALIASES)})")
    parser.add_argument("--root", default="data", help="data folder (default: data)")
    parser.add_argument("--list", action="store_true", help="list the data sets and whether ROOT has them")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    args = parser.parse_args(argv)
    if args.list or not args.datasets:
        for spec in DATASETS.values():
            state = "present" if spec.present(args.root) else ("manual" if any(f.url is None for f in spec.files)
                                                              else "missing")
            print(f"{spec.name:18s} {state:8s} {Path(args.root) / spec.folder}")
        return 0
    try:
        names = _expand(args.datasets)
    except KeyError as err:
        print(f"srlib: error: {err.args[0]}", file=sys.stderr)
        return 2
    failed = 0
    for name in names:
        try:
            print(f"{name}: {fetch(name, args.root, quiet=args.quiet)}")
        except DownloadError as err:  # includes ManualDownloadRequired and ChecksumError
            print(f"srlib: error: {err}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
