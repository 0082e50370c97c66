"""Output that is never half-written: a run's folder is replaced as a whole, or not at all.

A run writes every file into a fresh folder beside ``--out`` (``.<name>.tmp-<random>``), marks it complete,
then swaps it with ``--out`` in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``; elsewhere two renames,
with the previous result restored on the next start if a crash fell between them). Until the swap the
previous result stays in place, and after it no file of the earlier run (a figure of an earlier design)
remains. A lock beside ``--out`` (``.<name>.lock``) makes a second concurrent run into the same folder fail
at once with a clear message, and each start removes temporaries left by a run that was killed.

Files and folders are created with the user's umask, like any other tool. Every failure of the file system
(no permission, read-only, full disk, ``--out`` naming a file) becomes an :class:`cpeval.errors.OutputError`
that says what to change.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import json
import os
import secrets
import shutil
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType

from cpeval.errors import OutputError

MARKER = ".cpeval-output"  # written last into a complete output folder
# what earlier cpeval versions wrote into an output folder (accepted for replacement without a marker)
KNOWN_OUTPUTS = frozenset({"results.json", "report.md", "report.html", "report.pdf", "figures", "cost_benefit.json",
                           "cost_benefit.md"})
_RENAME_EXCHANGE = 2


def explain(exc: OSError, path: Path, what: str = "--out") -> OutputError:
    """An OutputError saying why ``path`` could not be written and what to do about it."""
    reason = {
        errno.EACCES: "no permission to write there; choose a folder you can write to, or change its permissions",
        errno.EPERM: "no permission to write there; choose a folder you can write to, or change its permissions",
        errno.EROFS: "the file system is read-only; choose a folder on a writable disk",
        errno.ENOSPC: "the disk is full; free some space or choose a folder on another disk",
        errno.EDQUOT: "the disk quota is exceeded; free some space or choose a folder on another disk",
        errno.EEXIST: "a file of that name is in the way; remove it or choose another path",
        errno.ENOTDIR: "a part of the path is a file, not a folder; choose another path",
        errno.EISDIR: "it is a folder; give a file name",
        errno.ENAMETOOLONG: "the path is too long; choose a shorter one",
    }.get(exc.errno or 0, f"{exc.strerror or exc}; choose another path")
    where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
    return OutputError(f"{what} {path}: cannot write{where}: {reason}")


class OutputDir:
    """The folder a run writes into. Use as a context manager around the whole run::

        with OutputDir(out) as target:     # checks --out, takes the lock, removes stale temporaries
            result = evaluate(...)
            target.commit(files)           # writes a fresh folder and swaps it in
    """

    def __init__(self, path: str | Path, what: str = "--out"):
        self.given = Path(path)
        self.path = Path(os.path.abspath(path))
        self.what = what
        self._lock_fd: int | None = None
        self._lock_path = self.path.parent / f".{self.path.name}.lock"

    def __enter__(self) -> OutputDir:
        try:
            self._check_target()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock()
            self._recover()
        except OSError as exc:
            self._unlock()
            raise explain(exc, self.path, self.what) from exc
        except BaseException:
            self._unlock()
            raise
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._unlock()

    # -- checks before the run ------------------------------------------------------------------------
    def _check_target(self) -> None:
        out = self.path
        if out.is_symlink():
            raise OutputError(f"{self.what} {out}: is a symbolic link; give the folder it points to instead")
        if out.exists() and not out.is_dir():
            raise OutputError(
                f"{self.what} {out}: is an existing file, not a folder; give a folder path (it is created if "
                "missing) or remove the file"
            )
        if out.is_dir():
            entries = set(os.listdir(out))
            foreign = sorted(entries - KNOWN_OUTPUTS - {MARKER}) if MARKER not in entries else []
            if foreign:
                shown = ", ".join(repr(e) for e in foreign[:3]) + (", ..." if len(foreign) > 3 else "")
                raise OutputError(
                    f"{self.what} {out}: the folder holds files cpeval did not write ({shown}); cpeval replaces "
                    "its output folder as a whole, so give a new or empty folder"
                )
        for parent in out.parents:  # the nearest existing ancestor must be a folder
            if parent.exists():
                if not parent.is_dir():
                    raise OutputError(f"{self.what} {out}: {parent} is a file, not a folder; choose another path")
                break

    def _lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock; the swap is still atomic
            return
        while True:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise OutputError(
                    f"{self.what} {self.path}: another cpeval run (process {holder}) is writing this folder; wait "
                    "for it to finish, or give another --out"
                ) from None
            # The holder before us may have removed the lock file after we opened it: lock the current one.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self._lock_path))
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, str(os.getpid()).encode())
                self._lock_fd = fd
                return
            os.close(fd)

    def _unlock(self) -> None:
        if self._lock_fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self._lock_path)  # still holding the lock, so no one else is using this file
        os.close(self._lock_fd)
        self._lock_fd = None

    def _temporaries(self, kind: str) -> Iterable[Path]:
        return self.path.parent.glob(f".{glob.escape(self.path.name)}.{kind}-*")

    def _recover(self) -> None:
        """Remove what a killed run left (we hold the lock, so no live run owns it); if a crash fell between
        the two renames of the fallback swap, put the previous result back first."""
        if not self.path.exists():
            previous = [p for p in self._temporaries("old") if (p / MARKER).exists() or _known(p)]
            if previous:
                os.rename(max(previous, key=lambda p: p.stat().st_mtime), self.path)
        for stale in [*self._temporaries("tmp"), *self._temporaries("old")]:
            _remove_tree(stale)

    # -- the run's output -----------------------------------------------------------------------------
    def commit(self, files: Mapping[str, str | bytes]) -> list[Path]:
        """Write ``files`` (relative path -> content) into a fresh folder and swap it in for ``--out``."""
        try:
            fresh = self._fresh()
            try:
                for name, content in files.items():
                    _write(fresh / name, content)
                _write(fresh / MARKER, json.dumps({"files": sorted(files)}) + "\n")
                _fsync_dir(fresh)
                self._swap(fresh)
            except BaseException:
                _remove_tree(fresh)
                raise
        except OSError as exc:
            raise explain(exc, self.path, self.what) from exc
        return [self.given / name for name in files]

    def _fresh(self) -> Path:
        while True:
            path = self.path.parent / f".{self.path.name}.tmp-{secrets.token_hex(6)}"
            try:
                path.mkdir()  # mode 0777 less the umask (tempfile.mkdtemp would make it 0700)
                return path
            except FileExistsError:
                continue

    def _swap(self, fresh: Path) -> None:
        if not self.path.exists():
            os.rename(fresh, self.path)
        elif exchange(fresh, self.path):
            _remove_tree(fresh)  # now holds the previous result
        else:
            old = self.path.parent / f".{self.path.name}.old-{secrets.token_hex(6)}"
            os.rename(self.path, old)
            os.rename(fresh, self.path)
            _remove_tree(old)
        _fsync_dir(self.path.parent)


def write_file_atomically(path: str | Path, content: str | bytes, what: str = "--out") -> Path:
    """Write one file: a temporary beside it (umask permissions), then one rename over the old file."""
    path = Path(os.path.abspath(path))
    if path.is_dir():
        raise OutputError(f"{what} {path}: is a folder; give a file name")
    tmp = path.parent / f".{path.name}.tmp-{secrets.token_hex(6)}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            _write(tmp, content)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    except OSError as exc:
        raise explain(exc, path, what) from exc
    return path


def exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE). False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd = -100
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # file system without exchange
        return False
    raise OSError(err, os.strerror(err), str(b))


def _known(path: Path) -> bool:
    try:
        return bool(os.listdir(path)) and set(os.listdir(path)) <= KNOWN_OUTPUTS
    except OSError:
        return False


def _write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    if not isinstance(data, bytes):
        raise TypeError(f"{path.name}: content must be str or bytes, not {type(content).__name__}")
    with open(path, "xb") as fh:  # 0666 less the umask
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a folder
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_tree(path: Path) -> None:
    """Remove a folder of ours, making read-only parts writable first; a failure leaves it for the next start."""

    def retry(func, target, _exc):  # type: ignore[no-untyped-def]
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(target), 0o700)
            func(target)

    if path.is_dir() and not path.is_symlink():
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=retry)
        else:
            shutil.rmtree(path, onerror=retry)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
