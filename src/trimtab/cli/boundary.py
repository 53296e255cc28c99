"""The CLI's one error boundary: an exception becomes one line on stderr and an exit code (2: bad input, 1: other).

Bad input is every InputError and every OS error on a path the user named (missing, a directory, unreadable, not
UTF-8, not a database, no such output folder); anything else is a bug, reported as such with a `--debug` hint.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from trimtab.errors import InputError, TrimtabError

SQLITE_MAGIC = b"SQLite format 3\x00"
_OS_REASON = {
    errno.ENOENT: "no such file or folder",
    errno.EISDIR: "is a folder, expected a file",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on the device",
    errno.EEXIST: "already exists",
}


@dataclass(frozen=True, slots=True)
class Failure:
    """What the boundary prints (one line) and the exit code."""

    code: int
    line: str


def classify(exc: BaseException, args: Sequence[str]) -> Failure:
    """One line and an exit code for `exc`; `args` are the raw command-line words (to name a culprit file)."""
    if isinstance(exc, InputError):
        return Failure(2, f"error: {exc}")
    if isinstance(exc, TrimtabError):
        cause = exc.__cause__ or exc.__context__
        if cause is not None and _not_a_database(cause):
            return Failure(2, f"error: {_culprit(args, _is_not_sqlite) or 'ledger'}: not a SQLite database")
        return Failure(1, f"error: {exc}")
    if isinstance(exc, UnicodeDecodeError):
        path = _culprit(args, _is_not_utf8)
        return Failure(2, f"error: {path or 'input'}: not UTF-8 text (a binary file?)")
    if _not_a_database(exc):
        return Failure(2, f"error: {_culprit(args, _is_not_sqlite) or 'database'}: not a SQLite database")
    if isinstance(exc, OSError) and exc.filename is not None:
        reason = _OS_REASON.get(exc.errno or 0, exc.strerror or type(exc).__name__)
        name = Path(str(exc.filename))
        if exc.errno == errno.ENOENT and not name.parent.exists():
            return Failure(2, f"error: {name}: no such folder {name.parent}")
        return Failure(2, f"error: {name}: {reason}")
    if isinstance(exc, OSError):
        return Failure(1, f"error: {exc.strerror or exc}")
    detail = str(exc).splitlines()[0][:200] if str(exc) else ""
    return Failure(
        1,
        f"error: internal error ({type(exc).__name__}{': ' + detail if detail else ''}); "
        "this is a bug: rerun with --debug for the traceback and report it",
    )


def _not_a_database(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(4):  # SQLAlchemy wraps the sqlite3 error
        if seen is None:
            return False
        if isinstance(seen, sqlite3.DatabaseError) and "not a database" in str(seen):
            return True
        if type(seen).__name__ == "DatabaseError" and "not a database" in str(seen):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__ or seen.__context__
    return False


def _culprit(args: Sequence[str], bad: object) -> str | None:
    """The first word of the command line naming an existing file for which `bad(path)` holds."""
    for word in args:
        value = word.split("=", 1)[1] if word.startswith("--") and "=" in word else word
        try:
            path = Path(value)
            if path.is_file() and bad(path):  # type: ignore[operator]
                return value
        except (OSError, ValueError):
            continue
    return None


def _head(path: Path, n: int = 1 << 16) -> bytes:
    with path.open("rb") as f:
        return f.read(n)


def _is_not_utf8(path: Path) -> bool:
    if path.suffix in {".gz", ".parquet", ".sqlite", ".db"}:  # binary formats the loaders read as such
        return False
    limit = 1 << 22
    try:
        _head(path, limit).decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start < limit - 4  # a multi-byte character cut by the read limit is not an error
    except OSError:
        return False
    return False


def _is_not_sqlite(path: Path) -> bool:
    try:
        return not _head(path, 16).startswith(SQLITE_MAGIC)
    except OSError:
        return False
