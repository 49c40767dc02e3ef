"""The model zoo (srlib.zoo, ``srlib weights``) and the SunHays80 registry entry, without the network.

Downloads are served by a fake ``urlopen`` that hands out local bytes, so the real downloader (``.part`` file, rename
after verification) runs end to end. Git blob ids are checked against ``git hash-object``; the loading path is checked
with a synthetic official-format DASR checkpoint placed under a download entry's file name.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import subprocess
import urllib.error
from pathlib import Path

import pytest
import torch

from srlib import runs, zoo
from srlib.cli import main
from srlib.data import download as dl
from srlib.data import registry
from srlib.dasr.official import DROPPED, read_key_list
from srlib.errors import CheckpointError, DataNotFound, UsageError
from srlib.models import load_upscaler

DASR_COMMIT = "51524af8021c94a502ee002e135867a1b75dc7d0"
OFFICIAL = {  # the authors' DASR files and their git blob ids (issue 14)
    "dasr-official-x2-iso": ("blindsr_x2_bicubic_iso", 2, "a55bb07df7bf1ff641f6d6e36d3147e9f1b43c6a"),
    "dasr-official-x3-iso": ("blindsr_x3_bicubic_iso", 3, "164b809eba7034ab8f8c27d90ffc33c0895ac44b"),
    "dasr-official-x4-iso": ("blindsr_x4_bicubic_iso", 4, "b2db203d019d1ea5e484d0ddb3f44144c2987684"),
    "dasr-official-x4-aniso": ("blindsr_x4_bicubic_aniso", 4, "f772b1a47f7ba2a374758593b8c3ef6a479da58d"),
}
MANUAL = ("usrdu-official-dsn", "usrdu-official-srn")
FIXTURE = Path(__file__).parent / "fixtures" / "dasr_state_dict_x4.txt"


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Every test gets an empty weights cache ($SRLIB_WEIGHTS) and a fresh verification memo."""
    folder = tmp_path / "weights-cache"
    monkeypatch.setenv("SRLIB_WEIGHTS", str(folder))
    monkeypatch.setattr(zoo, "_VERIFIED", {})
    return folder


@pytest.fixture
def serve(monkeypatch):
    """Replace urlopen with a fake that serves ``files[url]`` (bytes); ``log`` lists the requested URLs."""
    state = {"files": {}, "log": []}

    class Response(io.BytesIO):
        status = 200

        def __init__(self, body: bytes):
            super().__init__(body)
            self.headers = {"Content-Length": str(len(body))}

    def urlopen(request, timeout=None):
        url = request.full_url
        state["log"].append(url)
        if url not in state["files"]:
            raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)
        return Response(state["files"][url])

    monkeypatch.setattr(dl.urllib.request, "urlopen", urlopen)
    return state


def blob_of(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def with_blob(monkeypatch, name: str, blob: str) -> zoo.ZooEntry:
    """Point a static entry at another git blob id (the test's bytes)."""
    e = dataclasses.replace(zoo._STATIC[name], git_blob=blob)
    monkeypatch.setitem(zoo._STATIC, name, e)
    return e


def official_x4_state_dict() -> dict:
    """An official-format released x4 checkpoint (471 keys, G + encoder_q) with small random values."""
    g = torch.Generator().manual_seed(0)
    out = {}
    for key, (shape, dtype) in read_key_list(FIXTURE).items():
        if any(s in key for s in DROPPED):
            continue
        if dtype == "int64":
            out[key] = torch.zeros(shape, dtype=torch.long)
        elif key.endswith("running_var"):
            out[key] = torch.rand(shape, generator=g) + 0.5
        else:
            out[key] = torch.randn(shape, generator=g) * 0.02
    return out


# ------------------------------------------------------------------------------------------------------ git blob id
class TestGitBlobId:
    @pytest.mark.parametrize("data", [b"", b"hello\n", bytes(range(256)) * 1000 + b"\0tail"])
    def test_matches_git_hash_object(self, tmp_path, data):
        if shutil.which("git") is None:
            pytest.skip("git is not installed")
        f = tmp_path / "f.bin"
        f.write_bytes(data)
        want = subprocess.run(["git", "hash-object", str(f)], capture_output=True, text=True, check=True,
                              cwd=tmp_path).stdout.strip()
        assert zoo.git_blob_id(f) == want == blob_of(data)

    def test_known_answer(self, tmp_path):
        (tmp_path / "empty").write_bytes(b"")
        assert zoo.git_blob_id(tmp_path / "empty") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"


# ------------------------------------------------------------------------------------------------------- the entries
class TestEntries:
    def test_static_entries(self):
        names = zoo.names()
        assert names == sorted(names) and set(OFFICIAL) | set(MANUAL) <= set(names)
        for name, (folder, scale, blob) in OFFICIAL.items():
            e = zoo.entry(name)
            assert (e.kind, e.source, e.scale, e.git_blob) == ("dasr-official", "download", scale, blob)
            assert e.url == (f"https://raw.githubusercontent.com/LongguangWang/DASR/{DASR_COMMIT}/experiment/"
                             f"{folder}/model/model_600.pt")
            assert DASR_COMMIT in e.origin and "MIT" in e.license and e.purpose
        for name in MANUAL:
            e = zoo.entry(name)
            assert e.source == "manual" and e.url is None and e.kind in ("usrdu-dsn-official", "usrdu-srn-official")
            assert e.filename in e.manual and "baidu" in e.manual.lower() and e.license and e.purpose
        for name in names:
            e = zoo.entry(name)
            assert e.name == name and e.source in zoo.SOURCES and e.filename and "/" not in e.filename
            assert e.origin and e.license and e.purpose and e.scale in (2, 3, 4)
        assert zoo.entry("zoo:dasr-official-x4-iso") == zoo.entry("dasr-official-x4-iso")
        with pytest.raises(dataclasses.FrozenInstanceError):
            zoo.entry("dasr-official-x4-iso").url = "http://elsewhere"

    def test_cache_dir(self, monkeypatch, tmp_path, cache):
        assert zoo.cache_dir() == cache
        monkeypatch.delenv("SRLIB_WEIGHTS")
        monkeypatch.setenv("HOME", str(tmp_path))
        assert zoo.cache_dir() == tmp_path / ".cache" / "srlib" / "weights"

    def test_unknown_name(self):
        for call in (zoo.entry, zoo.path, zoo.get, zoo.load, zoo.is_available):
            with pytest.raises(UsageError, match="no zoo entry 'nope'.*dasr-official-x4-iso"):
                call("nope")
        with pytest.raises(UsageError, match="dasr-official-x4-iso"):
            load_upscaler("zoo:nope", device="cpu")

    def test_manual_entries(self, cache):
        for name in MANUAL:
            e = zoo.entry(name)
            assert not zoo.is_available(name)
            for call in (zoo.get, zoo.path):
                with pytest.raises(DataNotFound) as info:
                    call(name)
                msg = str(info.value)
                assert "by hand" in msg and "baidu" in msg.lower() and str(cache / e.filename) in msg
            cache.mkdir(exist_ok=True)
            (cache / e.filename).write_bytes(b"placed by hand")  # no checksum: present is enough
            assert zoo.is_available(name) and zoo.get(name) == zoo.path(name) == cache / e.filename

    def test_not_downloaded(self):
        with pytest.raises(DataNotFound, match="srlib weights get dasr-official-x2-iso"):
            zoo.path("dasr-official-x2-iso")
        with pytest.raises(DataNotFound, match="srlib weights get"):
            load_upscaler("zoo:dasr-official-x2-iso", device="cpu")


# ---------------------------------------------------------------------------------------------------------- download
class TestDownload:
    def test_right_blob_lands_in_cache(self, monkeypatch, serve, cache):
        payload = os.urandom(50_000)
        e = with_blob(monkeypatch, "dasr-official-x3-iso", blob_of(payload))
        serve["files"][e.url] = payload
        got = zoo.get(e.name, progress=False)
        assert got == cache / e.filename and got.read_bytes() == payload
        assert serve["log"] == [e.url] and not list(cache.glob("*.part"))
        assert zoo.is_available(e.name) and zoo.path(e.name) == got
        assert zoo.get(e.name, progress=False) == got and len(serve["log"]) == 1  # present: no second request

    def test_wrong_blob_refused(self, serve, cache):
        e = zoo.entry("dasr-official-x4-iso")
        serve["files"][e.url] = b"not the authors' weights"
        with pytest.raises(CheckpointError) as info:
            zoo.get(e.name, progress=False)
        msg = str(info.value)
        assert e.git_blob in msg and blob_of(b"not the authors' weights") in msg and "deleted" in msg
        assert not cache.exists() or not list(cache.iterdir())
        assert not zoo.is_available(e.name)

    def test_tampered_cache_file(self, monkeypatch, cache):
        e = zoo.entry("dasr-official-x2-iso")
        cache.mkdir()
        (cache / e.filename).write_bytes(b"changed on disk")
        assert not zoo.is_available(e.name)
        for call in (zoo.path, zoo.get):
            with pytest.raises(CheckpointError, match=f"expected {e.git_blob}.*srlib weights get"):
                call(e.name)

    def test_network_failure_is_data_not_found(self, serve):
        with pytest.raises(DataNotFound, match="HTTP 404"):
            zoo.get("dasr-official-x2-iso", progress=False)


# ----------------------------------------------------------------------------------------------------------- loading
class TestLoad:
    def test_load_upscaler_zoo_name(self, monkeypatch, cache):
        name = "dasr-official-x4-iso"
        cache.mkdir()
        file = cache / zoo.entry(name).filename
        torch.save(official_x4_state_dict(), file)
        with_blob(monkeypatch, name, zoo.git_blob_id(file))
        up = load_upscaler(f"zoo:{name}", device="cpu")
        lr = torch.rand(1, 3, 8, 6, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            sr = up(lr)
            ref = load_upscaler(file, device="cpu")(lr)
        assert up.scale == 4 and sr.shape == (1, 3, 32, 24) and torch.equal(sr, ref)
        loaded = zoo.load(name)
        assert (loaded.kind, loaded.scale) == ("dasr-official", 4) and not loaded.model.training
        assert loaded.source.startswith(f"zoo:{name}")
        # one changed byte: refused before anything is unpickled
        data = bytearray(file.read_bytes())
        data[-1] ^= 1
        file.write_bytes(bytes(data))
        with pytest.raises(CheckpointError, match="git blob id"):
            load_upscaler(f"zoo:{name}", device="cpu")


# ------------------------------------------------------------------------------------------------- shipped entries
def tiny_checkpoint(path: Path) -> None:
    from srlib.dasr.network import BlindSR
    from srlib.dasr.train_config import DASRTrainConfig

    torch.manual_seed(0)
    cfg = DASRTrainConfig.for_profile("tiny", scale=2)
    runs.save_checkpoint(path, runs.training_state("srlib.dasr", cfg, 0, {"model": BlindSR(cfg.model)}, full=False))


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """A stand-in srlib/weights/ folder with one tiny checkpoint and its manifest (plus one listed, absent file)."""
    folder = tmp_path / "weights"
    folder.mkdir()
    tiny_checkpoint(folder / "tiny-x2.pt")
    manifest = {
        "tiny-x2": {"file": "tiny-x2.pt", "size": (folder / "tiny-x2.pt").stat().st_size,
                    "sha256": zoo.sha256sum(folder / "tiny-x2.pt"), "kind": "srlib.dasr", "scale": 2,
                    "purpose": "a test", "license": "MIT", "command": "srlib train dasr --profile tiny", "seed": 0,
                    "data": "builtin", "git_commit": "abc123", "wall_time_s": 60, "machine": "test", "metrics": {}},
        "absent": {"file": "absent.pt", "sha256": "0" * 64, "kind": "srlib.dasr", "scale": 4},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(zoo, "WEIGHTS_DIR", folder)
    monkeypatch.setattr(zoo, "MANIFEST", folder / "manifest.json")
    return folder


class TestShipped:
    def test_entries_from_manifest(self, shipped):
        assert {"tiny-x2", "absent"} <= set(zoo.names()) and zoo.manifest()["tiny-x2"]["seed"] == 0
        e = zoo.entry("tiny-x2")
        assert (e.source, e.kind, e.scale, e.filename) == ("shipped", "srlib.dasr", 2, "tiny-x2.pt")
        assert "srlib train dasr --profile tiny" in e.origin and "seed 0" in e.origin
        assert zoo.is_available("tiny-x2") and zoo.get("tiny-x2") == zoo.path("tiny-x2") == shipped / "tiny-x2.pt"
        loaded = zoo.load("tiny-x2")
        assert (loaded.kind, loaded.scale) == ("srlib.dasr", 2)
        assert load_upscaler("zoo:tiny-x2", device="cpu").scale == 2

    def test_missing_and_tampered(self, shipped):
        assert not zoo.is_available("absent")
        with pytest.raises(CheckpointError, match="missing"):
            zoo.path("absent")
        with (shipped / "tiny-x2.pt").open("ab") as f:
            f.write(b"\0")
        assert not zoo.is_available("tiny-x2")
        with pytest.raises(CheckpointError, match="sha256"):
            zoo.load("tiny-x2")

    def test_kind_mismatch(self, shipped):
        data = json.loads((shipped / "manifest.json").read_text())
        data["tiny-x2"]["kind"] = "usrdu-srn"
        (shipped / "manifest.json").write_text(json.dumps(data))
        with pytest.raises(CheckpointError, match="zoo lists it as 'usrdu-srn'"):
            zoo.load("tiny-x2")

    def test_no_manifest(self, tmp_path, monkeypatch):
        monkeypatch.setattr(zoo, "MANIFEST", tmp_path / "none.json")
        assert zoo.manifest() == {} and all(zoo.entry(n).source != "shipped" for n in zoo.names())


def test_real_manifest_entries():
    """Every checkpoint the package ships: present, sha256 and size as listed, loads through the safe path."""
    records = zoo.manifest_records()
    if not records:
        pytest.skip(f"no shipped manifest at {zoo.MANIFEST} yet")
    total = 0
    for name, rec in records.items():
        e = zoo.entry(name)
        file = zoo.WEIGHTS_DIR / rec["file"]
        assert e.source == "shipped" and file.is_file(), f"{name}: {file} missing"
        assert zoo.sha256sum(file) == rec["sha256"], f"{name}: sha256 differs from the manifest"
        if rec.get("size") is not None:
            assert file.stat().st_size == rec["size"], f"{name}: size differs from the manifest"
        total += file.stat().st_size
        loaded = zoo.load(name)  # srlib.runs.load_checkpoint: weights_only=True
        assert loaded.kind == e.kind and loaded.scale == e.scale
    assert total <= 25_000_000, f"shipped checkpoints take {total / 1e6:.1f} MB, the budget is 25 MB"


# --------------------------------------------------------------------------------------------------------------- CLI
class TestCLI:
    def run(self, capsys, *args):
        code = main(list(args))
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err

    def test_list(self, capsys, monkeypatch, cache):
        code, out, _ = self.run(capsys, "weights", "list")
        assert code == 0 and "PRESENT" in out and str(cache) in out
        line = next(li for li in out.splitlines() if li.startswith("dasr-official-x4-iso "))
        assert " download " in line and " no " in line and "Table 2" in line
        code, out, _ = self.run(capsys, "weights", "list", "--json")
        records = {r["name"]: r for r in json.loads(out)}
        assert code == 0 and set(records) == set(zoo.names())
        assert records["dasr-official-x4-iso"]["git_blob"] == OFFICIAL["dasr-official-x4-iso"][2]
        assert records["usrdu-official-srn"]["present"] is False

    def test_get(self, capsys, monkeypatch, serve, cache):
        payload = b"x" * 1000
        e = with_blob(monkeypatch, "dasr-official-x2-iso", blob_of(payload))
        serve["files"][e.url] = payload
        code, out, _ = self.run(capsys, "weights", "get", e.name)
        assert code == 0 and str(cache / e.filename) in out
        code, out, _ = self.run(capsys, "weights", "list")
        assert " yes " in next(li for li in out.splitlines() if li.startswith(e.name + " "))

    def test_get_errors(self, capsys, serve):
        code, _, err = self.run(capsys, "weights", "get", "nope")
        assert code == 2 and err.startswith("srlib: error: no zoo entry 'nope'") and "usrdu-official-dsn" in err
        code, _, err = self.run(capsys, "weights", "get", "usrdu-official-dsn")
        assert code == 5 and err.startswith("srlib: error: ") and "usrdu_track1_training_down_0420.pth" in err
        e = zoo.entry("dasr-official-x3-iso")
        serve["files"][e.url] = b"wrong bytes"
        code, _, err = self.run(capsys, "weights", "get", e.name)
        assert code == 4 and e.git_blob in err
        code, _, err = self.run(capsys, "weights")
        assert code == 2 and "srlib weights list" in err
        code, _, _ = self.run(capsys, "weights", "list", "--bogus")
        assert code == 2


# --------------------------------------------------------------------------------------------------------- SunHays80
class TestSunHays80:
    def test_registry_entry(self):
        spec = registry.DATASETS["SunHays80"]
        listing = registry.read_gitblobs(Path(zoo.__file__).parent / "assets" / "SunHays80.gitblobs")
        assert len(spec.files) == len(listing) == 80 and spec.folder == "train/SunHays80" and not spec.archives
        base = ("https://raw.githubusercontent.com/majedelhelou/denoising_datasets/"
                "58234876fef6f1b56306705c78dfd40cdb837b86/CSun_Hays80/")
        for f, (blob, name) in zip(spec.files, listing):
            assert f.filename == name and f.git_blob == blob and f.url.startswith(base)

    def test_read_gitblobs_rejects_bad_lines(self, tmp_path):
        (tmp_path / "l").write_text("# comment\n" + "a" * 40 + "  ok.jpg\nnot-a-blob  x.jpg\n")
        with pytest.raises(ValueError, match=":3:"):
            registry.read_gitblobs(tmp_path / "l")

    @pytest.fixture
    def fake_corpus(self, monkeypatch, serve):
        """SunHays80 with three small files served by the fake urlopen."""
        payloads = {f"scene{i}_sun_x.jpg": os.urandom(2000 + i) for i in range(3)}
        files = registry.gitblob_files([(blob_of(b), n) for n, b in payloads.items()], "https://example.test/CSH/")
        monkeypatch.setitem(registry.DATASETS, "SunHays80",
                            dataclasses.replace(registry.DATASETS["SunHays80"], files=files))
        for f in files:
            serve["files"][f.url] = payloads[f.filename]
        return payloads

    def test_fetch_verifies_each_file(self, fake_corpus, serve, tmp_path, monkeypatch):
        from srlib.data.training import find_corpus

        root = tmp_path / "data"
        folder = registry.fetch("SunHays80", root, quiet=True)
        assert folder == root / "train" / "SunHays80"
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == fake_corpus
        assert registry.DATASETS["SunHays80"].present(root)
        monkeypatch.setenv("SRLIB_DATA", str(root))
        assert find_corpus("SunHays80") == folder
        assert registry.fetch("SunHays80", root, quiet=True) == folder and len(serve["log"]) == 3  # no new request

    def test_fetch_resumes_after_a_bad_file(self, fake_corpus, serve, tmp_path, capsys):
        name = sorted(fake_corpus)[1]
        url = next(f.url for f in registry.DATASETS["SunHays80"].files if f.filename == name)
        serve["files"][url] = b"tampered"
        root = tmp_path / "data"
        with pytest.raises(dl.ChecksumError, match="git blob id") as info:
            registry.fetch("SunHays80", root, quiet=True)
        assert info.value.expected == blob_of(fake_corpus[name]) and "train/SunHays80" in str(info.value)
        folder = root / "train" / "SunHays80"
        assert sorted(p.name for p in folder.iterdir()) == [sorted(fake_corpus)[0]]  # nothing bad left behind
        assert not registry.DATASETS["SunHays80"].present(root)
        serve["files"][url] = fake_corpus[name]
        assert registry.main(["SunHays80", "--root", str(root), "--quiet"]) == 0
        assert sorted(p.name for p in folder.iterdir()) == sorted(fake_corpus)
        assert main(["data", "--list", "--root", str(root)]) == 0
        assert "SunHays80" in capsys.readouterr().out

    def test_shared_copy_matches_listing(self):
        root = os.environ.get("SRLIB_DATA")
        folder = Path(root) / "train" / "SunHays80" if root else None
        if folder is None or not folder.is_dir():
            pytest.skip("SRLIB_DATA/train/SunHays80 is not on this machine")
        for f in registry.DATASETS["SunHays80"].files:
            assert zoo.git_blob_id(folder / f.filename) == f.git_blob, f.filename
