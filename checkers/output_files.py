"""Files a command writes: targets checked before any work (regular files only, never an input), atomic replacement.

Every output goes through `write_atomic`: the content is written to a fresh temporary file that
`tempfile.mkstemp` creates (O_CREAT | O_EXCL, so it is never an existing file or a link someone left
there) in the target's folder, then renamed over the target. A temporary file is therefore never one
of the inputs, and a failed write leaves the target as it was. The target itself must be absent or a
regular file (a link to a regular file is replaced by the new file, never written through): a
device node such as /dev/null, a pipe or a socket is refused, since renaming over it would replace
it. Writing to standard output is spelled `-` by the commands that allow it. `check_distinct` refuses
an output that is an input (same path after resolving links, or the same file through a hard link)
or another output; `open_journal` opens an append-only log without following links.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from checkers.errors import UsageError

STDOUT = "-"  # the spelling of standard output for an option that names a file to write


def same_file(a: Path, b: Path) -> bool:
    """Whether `a` and `b` name one file: the same path once links are resolved, or the same inode (hard links)."""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"


def check_target(path: Path, option: str, *, stdout_allowed: bool = False) -> None:
    """UsageError (one line) unless `path` can be replaced by a regular file: its folder exists and is writable,
    and the path is absent or a regular file (followed through links)."""
    folder = path.parent
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise UsageError(f"{option} {path} cannot be examined ({exc.strerror})") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise UsageError(f"{option} {path} is a folder; give a file name")
    if mode is not None and not stat.S_ISREG(mode):
        hint = f" (give {option} - to write to standard output)" if stdout_allowed else ""
        raise UsageError(f"{option} {path} is {_kind(mode)}, not a regular file; proofcheck writes only regular "
                         f"files{hint}")
    if not folder.exists():
        raise UsageError(f"{option} {path}: the folder {folder} does not exist")
    if not folder.is_dir():
        raise UsageError(f"{option} {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: the folder {folder} is not writable")
    if mode is not None and not os.access(path, os.W_OK):
        raise UsageError(f"{option} {path} exists and is read-only")


def check_distinct(inputs: Iterable[tuple[str, Path]], outputs: Iterable[tuple[str, Path]]) -> None:
    """UsageError when an output is one of the inputs or two outputs are one file (links and hard links included)."""
    inputs, outputs = list(inputs), list(outputs)
    for option, path in outputs:
        for what, source in inputs:
            if same_file(path, source):
                raise UsageError(f"{option} {path} is {what} {source}; writing it would destroy the answers")
    for i, (option_a, a) in enumerate(outputs):
        for option_b, b in outputs[i + 1:]:
            if same_file(a, b):
                raise UsageError(f"{option_a} and {option_b} are the same file ({a}); give two different paths")


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _refuse_unless_regular(path: Path) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise UsageError(f"{path} is {_kind(mode)}, not a regular file; proofcheck writes only regular files "
                         f"(nothing was written there)")


def write_atomic(path: Path, write: Callable, *, binary: bool = False) -> None:
    """Write `path` through a fresh temporary file in its folder, renamed over it when `write(f)` has finished.

    The target must be absent or a regular file, checked before and again just before the rename;
    on any failure the temporary file is removed and the target is untouched.
    """
    path = Path(path)
    _refuse_unless_regular(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would hide the output from the TA's group
        with (os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", newline="", encoding="utf-8")) as f:
            write(f)
        _refuse_unless_regular(path)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """`write_atomic` for a text already in memory (UTF-8)."""
    write_atomic(path, lambda f: f.write(text))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """`write_atomic` for bytes already in memory."""
    write_atomic(path, lambda f: f.write(data), binary=True)


def copy_atomic(source: Path, target: Path) -> None:
    """Copy `source` to `target` through `write_atomic` (never written through a link or into a device)."""
    import shutil

    with open(source, "rb") as f:
        write_atomic(target, lambda out: shutil.copyfileobj(f, out), binary=True)


def open_journal(path: Path):
    """An append-only binary file at `path`, created if absent (`tell()` is its size); UsageError if it is a link or
    not a regular file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        if Path(path).is_symlink():
            raise UsageError(f"the journal {path} is a link; remove it (proofcheck does not write through links)") \
                from None
        raise UsageError(f"the journal {path} cannot be opened ({exc.strerror})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UsageError(f"the journal {path} is not a regular file; remove it")
    f = os.fdopen(fd, "ab")
    f.seek(0, os.SEEK_END)
    return f


def check_journal(path: Path) -> None:
    """UsageError if a journal left at `path` is a link or not a regular file (it is read and appended to)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        raise UsageError(f"the journal {path} is a link; remove it (proofcheck does not write through links)")
    if not stat.S_ISREG(mode):
        raise UsageError(f"the journal {path} is {_kind(mode)}, not a regular file; remove it")
