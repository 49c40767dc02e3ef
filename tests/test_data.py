"""Tests for srlib.data: image I/O policies, the built-in corpus, datasets, samplers and the registry/downloader.

Network tests use a local HTTP server on 127.0.0.1 only; nothing here touches the internet.
"""

import hashlib
import http.server
import io
import struct
import tarfile
import threading
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srlib.data import (BUILTIN_SPLITS, BenchmarkDataset, DASRPatchSampler, FolderDataset, UnpairedSampler, augment,
                        builtin_images, builtin_names, builtin_path, modcrop, read_image, read_image_with_alpha,
                        to_rgb, write_image)
from srlib.data import registry
from srlib.data.download import ChecksumError, DownloadError, download, extract
from srlib.errors import InputError, OutputError


def write_png16(path, arr: np.ndarray, colour_type: int) -> None:
    """Minimal 16-bit PNG writer (PIL cannot write 16-bit RGB): colour_type 0 = grey, 2 = RGB."""
    h, w = arr.shape[:2]
    raw = b"".join(b"\x00" + arr[i].astype(">u2").tobytes() for i in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
                           + chunk(b"IEND", b""))


# ------------------------------------------------------------------------------------------------------------ io
class TestIO:
    def test_rgb_round_trip(self, tmp_path):
        x = torch.randint(0, 256, (3, 5, 7), generator=torch.Generator().manual_seed(0)).float() / 255
        write_image(tmp_path / "a.png", x)
        y = read_image(tmp_path / "a.png")
        assert y.dtype == torch.float32 and y.shape == (3, 5, 7) and torch.equal(y, x)

    def test_grey_stays_grey(self, tmp_path):
        Image.fromarray(np.array([[0, 128, 255]], dtype=np.uint8), mode="L").save(tmp_path / "g.png")
        y = read_image(tmp_path / "g.png")
        assert y.shape == (1, 1, 3) and torch.allclose(y.flatten(), torch.tensor([0, 128 / 255, 1.0]))
        assert to_rgb(y).shape == (3, 1, 3) and torch.equal(to_rgb(y)[2], y[0])

    def test_16bit_grey(self, tmp_path):
        write_png16(tmp_path / "g16.png", np.array([[0, 1000, 65535]], dtype=np.uint16), 0)
        y = read_image(tmp_path / "g16.png")
        assert y.shape == (1, 1, 3)
        assert torch.allclose(y.flatten().double(), torch.tensor([0, 1000 / 65535, 1.0], dtype=torch.float64),
                              atol=1e-7)

    def test_16bit_rgb_warns(self, tmp_path):
        write_png16(tmp_path / "c16.png", np.full((2, 2, 3), 65535, dtype=np.uint16), 2)
        with pytest.warns(UserWarning, match="8 bits"):
            y = read_image(tmp_path / "c16.png")
        assert y.shape == (3, 2, 2) and torch.equal(y, torch.ones(3, 2, 2))

    def test_alpha_policy(self, tmp_path):
        arr = np.zeros((2, 3, 4), dtype=np.uint8)
        arr[..., 0], arr[..., 3] = 255, 51
        Image.fromarray(arr, mode="RGBA").save(tmp_path / "a.png")
        with pytest.raises(InputError, match="alpha"):
            read_image(tmp_path / "a.png")
        assert read_image(tmp_path / "a.png", alpha="drop").shape == (3, 2, 3)
        img, alpha = read_image_with_alpha(tmp_path / "a.png")
        assert img.shape == (3, 2, 3) and torch.allclose(alpha, torch.full((1, 2, 3), 0.2))
        write_image(tmp_path / "rgb.png", torch.zeros(3, 2, 2))
        assert read_image_with_alpha(tmp_path / "rgb.png")[1] is None
        with pytest.raises(ValueError, match="alpha must be"):
            read_image(tmp_path / "a.png", alpha="keep")

    def test_palette_becomes_rgb(self, tmp_path):
        im = Image.new("P", (4, 2))
        im.putpalette([10, 20, 30] * 256)
        im.save(tmp_path / "p.png")
        y = read_image(tmp_path / "p.png")
        assert y.shape == (3, 2, 4) and torch.allclose(y[:, 0, 0] * 255, torch.tensor([10.0, 20.0, 30.0]))

    def test_errors(self, tmp_path):
        with pytest.raises(FileNotFoundError):  # an InputError that is also a FileNotFoundError
            read_image(tmp_path / "missing.png")
        (tmp_path / "junk.png").write_bytes(b"not an image")
        with pytest.raises(InputError, match="cannot decode"):
            read_image(tmp_path / "junk.png")
        Image.new("CMYK", (2, 2)).save(tmp_path / "c.jpg")
        assert read_image(tmp_path / "c.jpg").shape == (3, 2, 2)  # CMYK is converted to RGB (see test_input_checks)
        with pytest.raises(OutputError, match="unknown output extension"):
            write_image(tmp_path / "x.xyz", torch.zeros(3, 4, 4))
        with pytest.raises(ValueError, match="C in"):
            write_image(tmp_path / "x.png", torch.zeros(2, 4, 4))
        with pytest.raises(ValueError, match="clamp"):
            write_image(tmp_path / "x.png", torch.full((3, 4, 4), 1.5))
        with pytest.raises(TypeError):
            write_image(tmp_path / "x.png", torch.zeros(3, 4, 4, dtype=torch.uint8))

    def test_modcrop_and_to_rgb(self):
        x = torch.arange(10 * 7).view(1, 10, 7)
        y = modcrop(x, 3)
        assert y.shape == (1, 9, 6) and torch.equal(y, x[:, :9, :6])  # top-left anchored
        with pytest.raises(ValueError):
            modcrop(x, 0)
        with pytest.raises(ValueError):
            to_rgb(torch.zeros(2, 4, 4))
        rgb = torch.rand(3, 2, 2)
        assert to_rgb(rgb) is rgb


# ------------------------------------------------------------------------------------------------------- builtin
class TestBuiltin:
    def test_split(self):
        train, test = builtin_names("train"), builtin_names("test")
        assert len(train) == 6 and len(test) == 3 and not set(train) & set(test)
        assert builtin_names("all") == train + test
        assert {"motorcycle_left", "motorcycle_right"} <= set(train)  # the stereo pair never straddles the split
        with pytest.raises(ValueError):
            builtin_names("val")

    def test_files_ship_in_the_wheel(self):
        import skimage

        pkg = Path(skimage.__file__).parent / "data"
        for name in builtin_names("all"):
            assert builtin_path(name).parent == pkg

    def test_images(self):
        imgs = builtin_images("test")
        assert [n for n, _ in imgs] == list(BUILTIN_SPLITS["test"])
        for _, x in imgs:
            assert x.dtype == torch.float32 and x.shape[0] == 3 and 0 <= x.min() and x.max() <= 1
            assert torch.equal((x * 255).round() / 255, x)  # 8-bit grid
        again = builtin_images("test")
        assert all(torch.equal(a[1], b[1]) for a, b in zip(imgs, again))


# ------------------------------------------------------------------------------------------------------ datasets
def _avgpool_degradation(scale):
    """A stand-in degradation: box down-sampling plus seeded noise, so determinism is visible."""
    def run(hr, generator):
        lr = torch.nn.functional.avg_pool2d(hr, scale)
        return (lr + 0.01 * torch.randn(lr.shape, generator=generator)).clamp(0, 1)
    return run


class TestDatasets:
    def test_folder_dataset(self, tmp_path):
        for name in ("b.png", "a.PNG", "c.jpg"):
            write_image(tmp_path / name, torch.zeros(3, 4, 4))
        (tmp_path / "notes.txt").write_text("x")
        ds = FolderDataset(tmp_path)
        assert [ds[i]["name"] for i in range(len(ds))] == ["a", "b", "c"]
        assert len(FolderDataset(tmp_path, exts=(".png",))) == 2
        with pytest.raises(FileNotFoundError):
            FolderDataset(tmp_path / "nope")
        (tmp_path / "empty").mkdir()
        with pytest.raises(FileNotFoundError, match="no image files"):
            FolderDataset(tmp_path / "empty")

    def test_benchmark_crop_and_determinism(self):
        hr = torch.rand(3, 13, 10, generator=torch.Generator().manual_seed(0))
        ds = BenchmarkDataset([("x", hr), ("y", hr)], 4, _avgpool_degradation(4), seed=5)
        item = ds[0]
        assert item["name"] == "x" and not item["grey"]
        assert torch.equal(item["hr"], hr[:, :12, :8]) and item["lr"].shape == (3, 3, 2)
        assert torch.equal(ds[0]["lr"], item["lr"])  # same seed -> same noise on every access
        assert not torch.equal(ds[1]["lr"], item["lr"])  # seed + index differs per image

    def test_benchmark_grey(self):
        grey = torch.rand(1, 8, 8)
        assert BenchmarkDataset([grey], 2, _avgpool_degradation(2))[0]["lr"].shape == (1, 4, 4)
        item = BenchmarkDataset([grey], 2, _avgpool_degradation(2), rgb=True)[0]
        assert item["grey"] and item["hr"].shape == (3, 8, 8) and item["lr"].shape == (3, 4, 4)

    def test_benchmark_errors(self):
        with pytest.raises(ValueError, match="either"):
            BenchmarkDataset([torch.rand(3, 8, 8)], 2, _avgpool_degradation(2), noise=5.0)
        with pytest.raises(ValueError, match="float"):
            BenchmarkDataset([torch.zeros(3, 8, 8, dtype=torch.uint8)], 2, _avgpool_degradation(2))
        bad = BenchmarkDataset([torch.rand(3, 8, 8)], 2, lambda hr, g: hr)
        with pytest.raises(ValueError, match="expected"):
            bad[0]

    def test_benchmark_default_degradation(self):
        pytest.importorskip("srlib.degradations", reason="srlib.degradations not available")
        from srlib.degradations import imresize

        hr = torch.rand(3, 16, 12, generator=torch.Generator().manual_seed(1))
        lr = BenchmarkDataset([hr], 4)[0]["lr"]  # no kernel, no noise: MATLAB bicubic, quantised to 8 bits
        assert torch.allclose(lr, (imresize(hr[None], 1 / 4)[0].clamp(0, 1) * 255).round() / 255, atol=1e-6)


# ------------------------------------------------------------------------------------------------------ samplers
def _locate(patch, img):
    """All (augmentation, y, x) such that augment(img)[:, y:y+P, x:x+P] == patch (img has unique values)."""
    hits, p = [], patch.shape[-1]
    for code in range(8):
        a = augment(img, *(bool(code >> k & 1) for k in range(3)))
        ys, xs = torch.nonzero(a[0] == patch[0, 0, 0], as_tuple=True)
        for y, x in zip(ys.tolist(), xs.tolist()):
            if torch.equal(a[:, y:y + p, x:x + p], patch):
                hits.append((code, y, x))
    return hits


class TestSamplers:
    def test_shape_and_determinism(self):
        imgs = [torch.rand(3, 30, 40), torch.rand(3, 25, 25)]
        s1 = DASRPatchSampler(imgs, scale=2, patch_size=6, batch_size=4, generator=7)
        s2 = DASRPatchSampler(imgs, scale=2, patch_size=6, batch_size=4, generator=torch.Generator().manual_seed(7))
        b = next(s1)
        assert b.shape == (4, 2, 3, 12, 12) and b.dtype == torch.float32
        assert torch.equal(b, next(s2))

    def test_state_restore(self):
        s = DASRPatchSampler([torch.rand(3, 20, 20)], scale=2, patch_size=4, batch_size=3, generator=1)
        next(s)
        state = s.state_dict()
        a = next(s)
        s.load_state_dict(state)
        assert torch.equal(next(s), a)

    def test_patches_are_augmented_crops_of_one_image(self):
        img = torch.arange(3 * 11 * 9, dtype=torch.float32).view(3, 11, 9) / (3 * 11 * 9)  # unique values
        s = DASRPatchSampler([img], scale=1, patch_size=5, batch_size=16, generator=0)
        codes = set()
        for pair in next(s):
            hits0, hits1 = _locate(pair[0], img), _locate(pair[1], img)
            shared = {h[0] for h in hits0} & {h[0] for h in hits1}
            assert shared, "both crops must come from the same augmented image"
            codes |= shared
        assert len(codes) > 2  # several augmentations actually occur

    def test_offsets_cover_the_last_position(self):
        s = DASRPatchSampler([torch.rand(1, 5, 5)], scale=1, patch_size=5, batch_size=2, generator=0)
        assert next(s).shape == (2, 2, 1, 5, 5)  # image side == patch side works (the official code crashes)
        square = torch.arange(36, dtype=torch.float32).view(1, 6, 6) / 36
        s = DASRPatchSampler([square], scale=1, patch_size=5, batch_size=64, generator=0)
        offsets = {_locate(p, square)[0][1:] for pair in next(s) for p in pair}
        assert offsets == {(0, 0), (0, 1), (1, 0), (1, 1)}

    def test_uint8_and_errors(self):
        u8 = torch.randint(0, 256, (3, 8, 8), dtype=torch.uint8)
        b = next(DASRPatchSampler([u8], scale=1, patch_size=8, batch_size=1, generator=0))
        assert b.dtype == torch.float32 and 0 <= b.min() and b.max() <= 1
        back = (b[0, 0] * 255).round().to(torch.uint8)
        assert any(torch.equal(back, augment(u8, *(bool(c >> k & 1) for k in range(3)))) for c in range(8))
        with pytest.raises(ValueError, match="smaller than"):
            DASRPatchSampler([torch.rand(3, 100, 20)], scale=4, patch_size=6)
        with pytest.raises(ValueError, match="channels"):
            DASRPatchSampler([torch.rand(3, 8, 8), torch.rand(1, 8, 8)], scale=1, patch_size=4)
        with pytest.raises(TypeError):
            DASRPatchSampler([torch.rand(3, 8, 8)], scale=1, patch_size=4, generator=0.5)

    def test_unpaired(self):
        hr = [("a", torch.rand(3, 40, 40)), ("b", torch.rand(3, 32, 48))]
        lr = [torch.rand(3, 9, 12)]
        s = UnpairedSampler(hr, lr, scale=4, lr_patch=8, batch_size=3, generator=2)
        h, l = next(s)
        assert h.shape == (3, 3, 32, 32) and l.shape == (3, 3, 8, 8)
        h2, l2 = next(UnpairedSampler(hr, lr, scale=4, lr_patch=8, batch_size=3, generator=2))
        assert torch.equal(h, h2) and torch.equal(l, l2)
        with pytest.raises(ValueError, match="channels"):
            UnpairedSampler(hr, [torch.rand(1, 9, 9)], scale=4, lr_patch=8)


# ------------------------------------------------------------------------------------------------------ registry
class TestRegistry:
    def test_entries_well_formed(self):
        required = {"DIV2K_train_HR", "DIV2K_valid_HR", "Flickr2K", "Set5", "Set14", "B100", "Urban100", "RealSR_V3",
                    "NTIRE2020_Track1", "NTIRE2020_Track2", "DPED"}
        assert required <= set(registry.DATASETS)
        for name, spec in registry.DATASETS.items():
            assert spec.name == name and spec.description and spec.layout and spec.homepage
            assert spec.files and not Path(spec.folder).is_absolute() and ".." not in Path(spec.folder).parts
            for f in spec.files:
                assert f.filename and "/" not in f.filename
                assert f.url is None or f.url.startswith(("http://", "https://"))
                assert f.sha256 is None or (len(f.sha256) == 64 and int(f.sha256, 16) >= 0)
        assert registry.DATASETS["DIV2K_train_HR"].files[0].url.startswith("http://data.vision.ee.ethz.ch/")
        for names in registry.ALIASES.values():
            assert set(names) <= set(registry.DATASETS)

    def test_manual_dataset_error(self, tmp_path):
        with pytest.raises(registry.ManualDownloadRequired) as info:
            registry.fetch("NTIRE2020_Track1", tmp_path)
        assert "codalab" in str(info.value) and str(tmp_path / "NTIRE2020_Track1") in str(info.value)
        with pytest.raises(KeyError):
            registry.fetch("ImageNet", tmp_path)

    def test_main(self, tmp_path, capsys):
        assert registry.main(["--list", "--root", str(tmp_path)]) == 0
        assert "DIV2K_train_HR" in capsys.readouterr().out
        assert registry.main(["NoSuchSet", "--root", str(tmp_path)]) == 2
        assert registry.main(["RealSR_V3", "--root", str(tmp_path), "--quiet"]) == 1


PAYLOAD = bytes(np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8))


@pytest.fixture
def server(monkeypatch):
    """A loopback HTTP server with Range support. files: path -> bytes; log: (path, Range header) per request."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    state = {"files": {"/data.bin": PAYLOAD}, "log": [], "ranges": True}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = state["files"].get(self.path)
            rng = self.headers.get("Range")
            state["log"].append((self.path, rng))
            if body is None:
                self.send_error(404)
                return
            start = int(rng.split("=")[1].rstrip("-")) if (rng and state["ranges"]) else 0
            if start >= len(body) and rng:
                self.send_error(416)
                return
            self.send_response(206 if start else 200)
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            self.wfile.write(body[start:])

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield state
    httpd.shutdown()
    httpd.server_close()


class TestDownloader:
    def test_resumes_from_part_file(self, server, tmp_path):
        dest = tmp_path / "data.bin"
        (tmp_path / "data.bin.part").write_bytes(PAYLOAD[:123_456])
        sha = hashlib.sha256(PAYLOAD).hexdigest()
        assert download(server["url"] + "/data.bin", dest, sha256=sha, size=len(PAYLOAD), quiet=True) == dest
        assert dest.read_bytes() == PAYLOAD and not (tmp_path / "data.bin.part").exists()
        assert server["log"] == [("/data.bin", "bytes=123456-")]
        download(server["url"] + "/data.bin", dest, sha256=sha, quiet=True)  # present and verified: no request
        assert len(server["log"]) == 1

    def test_server_without_ranges_restarts(self, server, tmp_path):
        server["ranges"] = False
        (tmp_path / "d.bin.part").write_bytes(b"garbage" * 10)
        download(server["url"] + "/data.bin", tmp_path / "d.bin", quiet=True)
        assert (tmp_path / "d.bin").read_bytes() == PAYLOAD

    def test_complete_part_file(self, server, tmp_path):
        (tmp_path / "d.bin.part").write_bytes(PAYLOAD)  # 416 from the server: the .part is already whole
        download(server["url"] + "/data.bin", tmp_path / "d.bin", sha256=hashlib.sha256(PAYLOAD).hexdigest(),
                 quiet=True)
        assert (tmp_path / "d.bin").read_bytes() == PAYLOAD

    def test_checksum_mismatch(self, server, tmp_path):
        with pytest.raises(ChecksumError, match="sha256"):
            download(server["url"] + "/data.bin", tmp_path / "d.bin", sha256="0" * 64, quiet=True)
        assert not (tmp_path / "d.bin").exists() and not (tmp_path / "d.bin.part").exists()

    def test_errors_name_url_and_folder(self, server, tmp_path):
        with pytest.raises(DownloadError) as info:
            download(server["url"] + "/missing.bin", tmp_path / "m.bin", quiet=True)
        assert "/missing.bin" in str(info.value) and str(tmp_path / "m.bin") in str(info.value)
        # a closed loopback port behaves like being offline
        import socket
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        with pytest.raises(DownloadError, match="offline"):
            download(f"http://127.0.0.1:{port}/x.zip", tmp_path / "x.zip", quiet=True, timeout=5)

    def test_fetch_downloads_and_extracts(self, server, tmp_path, monkeypatch):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("Toy/HR/a.png", b"png bytes")
        server["files"]["/toy.zip"] = buf.getvalue()
        spec = registry.DatasetSpec("Toy", "toy", "http://example.invalid",
                                    (registry.RemoteFile("toy.zip", server["url"] + "/toy.zip",
                                                         sha256=hashlib.sha256(buf.getvalue()).hexdigest()),),
                                    ".", "Toy/HR", "Toy/HR/*.png")
        monkeypatch.setitem(registry.DATASETS, "Toy", spec)
        assert registry.fetch("Toy", tmp_path, quiet=True) == tmp_path / "Toy" / "HR"
        assert (tmp_path / "Toy" / "HR" / "a.png").read_bytes() == b"png bytes"
        assert registry.fetch("Toy", tmp_path, quiet=True) == tmp_path / "Toy" / "HR"
        assert len(server["log"]) == 1  # already present: no second request

    def test_extract_refuses_unsafe_members(self, tmp_path):
        zpath = tmp_path / "bad.zip"
        with zipfile.ZipFile(zpath, "w") as z:
            z.writestr("../evil.txt", b"x")
        with pytest.raises(ValueError, match="unsafe"):
            extract(zpath, tmp_path / "out")
        tpath = tmp_path / "bad.tar"
        with tarfile.open(tpath, "w") as t:
            info = tarfile.TarInfo("link")
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            t.addfile(info)
        with pytest.raises(ValueError, match="link"):
            extract(tpath, tmp_path / "out")
        good = tmp_path / "good.tar.gz"
        with tarfile.open(good, "w:gz") as t:
            data = b"hello"
            info = tarfile.TarInfo("d/f.txt")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        extract(good, tmp_path / "out")
        assert (tmp_path / "out" / "d" / "f.txt").read_bytes() == b"hello"
