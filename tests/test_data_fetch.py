"""Download/verify helpers: checksums, atomic writes, npm pack of a local tarball."""

import hashlib
import shutil
import tarfile

import pytest

from helpers.data import fetch_utils as fu


def test_digests_match_hashlib(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"novelty" * 1000)
    assert fu.md5sum(path) == hashlib.md5(path.read_bytes()).hexdigest()
    assert fu.sha256sum(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert fu.verify_checksum(path, fu.md5sum(path).upper(), "md5") == path
    assert fu.is_valid(path, fu.sha256sum(path))


def test_checksum_mismatch_removes_file_and_names_it(tmp_path):
    path = tmp_path / "train-images.gz"
    path.write_bytes(b"half a download")
    with pytest.raises(fu.ChecksumError, match="train-images.gz") as info:
        fu.verify_checksum(path, "0" * 32, "md5")
    assert not path.exists()
    assert info.value.path == path and info.value.algo == "md5"


def test_checksum_mismatch_can_keep_file(tmp_path):
    path = tmp_path / "keep.bin"
    path.write_bytes(b"abc")
    with pytest.raises(fu.ChecksumError):
        fu.verify_checksum(path, "0" * 64, remove=False)
    assert path.exists()
    assert not fu.is_valid(path, "0" * 64)


def test_atomic_write_replaces_only_on_success(tmp_path):
    target = tmp_path / "sub" / "out.bin"
    fu.atomic_write_bytes(target, b"first")
    assert target.read_bytes() == b"first"
    with pytest.raises(RuntimeError):
        with fu.atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("interrupted")
    assert target.read_bytes() == b"first"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.bin"]


def test_atomic_path_leaves_nothing_when_interrupted(tmp_path):
    target = tmp_path / "never.bin"
    with pytest.raises(KeyboardInterrupt):
        with fu.atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir(tmp_path):
    target = tmp_path / "set"
    with fu.atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("a")
    assert (target / "a.txt").read_text() == "a"
    with pytest.raises(ValueError):
        with fu.atomic_dir(target) as tmp:
            (tmp / "b.txt").write_text("b")
            raise ValueError
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    with fu.atomic_dir(target) as tmp:
        (tmp / "c.txt").write_text("c")
    assert sorted(p.name for p in target.iterdir()) == ["c.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["set"]


def test_download_file_url_with_checksum(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"payload" * 100)
    dest = tmp_path / "cache" / "dest.bin"
    fu.download(src.as_uri(), dest, expected=fu.md5sum(src), algo="md5")
    assert dest.read_bytes() == src.read_bytes()
    bad = tmp_path / "cache" / "bad.bin"
    with pytest.raises(fu.ChecksumError, match="bad.bin"):
        fu.download(src.as_uri(), bad, expected="0" * 32)
    assert not bad.exists()
    with pytest.raises(fu.FetchError, match="missing"):
        fu.download((tmp_path / "missing").as_uri(), tmp_path / "cache" / "x.bin")
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["dest.bin"]


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm not installed")
def test_npm_pack_local_tarball(tmp_path):
    pkg = tmp_path / "src" / "package"
    pkg.mkdir(parents=True)
    (pkg / "package.json").write_text('{"name": "tiny-fixture", "version": "1.0.0"}')
    (pkg / "data.txt").write_text("hello")
    tgz = tmp_path / "tiny-fixture-1.0.0.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(pkg, arcname="package")
    out = fu.npm_pack(str(tgz), tmp_path / "out")
    assert out == tmp_path / "out" / "package"
    assert (out / "data.txt").read_text() == "hello"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["package"]


def test_npm_pack_without_npm(tmp_path):
    with pytest.raises(fu.FetchError, match="not found"):
        fu.npm_pack("x@1.0.0", tmp_path, npm="npm-that-does-not-exist")
