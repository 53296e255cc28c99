"""Group commit for in-process work: every store's reads and writes on one engine go through `write_on` and
`read_on`, which join the batch open on this thread (`batched`) instead of opening their own transaction.

Inside a batch, each unit of work runs under `attempt` (one savepoint): when it fails, none of its writes stay
(and none of its after-commit callbacks run), exactly as if its own transactions had never committed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine


@dataclass
class Batch:
    """One transaction shared by every write on `engine` from this thread."""

    engine: Engine
    conn: Connection
    after: list[Callable[[], None]] = field(default_factory=list)  # run once the batch has committed


_batch: ContextVar[Batch | None] = ContextVar("trimtab_batch", default=None)


@contextmanager
def batched(engine: Engine) -> Iterator[Batch]:
    """Group commit: every write on `engine` in this block (this thread) commits once, at the end. Only for work
    whose effects stay in the process until then (cycles on the per-cycle paper venue): a crash loses them whole,
    and nothing outside saw them. Run each unit of work under `attempt`."""
    with engine.begin() as conn:
        batch = Batch(engine, conn)
        token = _batch.set(batch)
        try:
            yield batch
        finally:
            _batch.reset(token)
    for f in batch.after:
        f()


def _current(engine: Engine) -> Connection | None:
    batch = _batch.get()
    return batch.conn if batch is not None and batch.engine is engine else None


@contextmanager
def write_on(engine: Engine) -> Iterator[Connection]:
    """One transaction on `engine`, or the batch open on this thread (its `attempt` undoes a failed unit)."""
    conn = _current(engine)
    if conn is None:
        with engine.begin() as fresh:
            yield fresh
        return
    yield conn


@contextmanager
def attempt(engine: Engine) -> Iterator[None]:
    """A unit of work inside the batch (a savepoint): on an exception its writes and callbacks are undone and the
    exception goes on. Outside a batch, nothing (each write is its own transaction)."""
    batch = _batch.get()
    if batch is None or batch.engine is not engine:
        yield
        return
    kept = len(batch.after)
    try:
        with batch.conn.begin_nested():
            yield
    except BaseException:
        del batch.after[kept:]
        raise


@contextmanager
def read_on(engine: Engine, reader: Engine | None = None) -> Iterator[Connection]:
    """A connection for reads (`reader`'s, default `engine`'s); inside a batch, the batch's (it sees its writes)."""
    conn = _current(engine)
    if conn is not None:
        yield conn
        return
    with (reader or engine).connect() as fresh:
        yield fresh


def in_batch(engine: Engine) -> bool:
    """True while a batch on `engine` is open on this thread (what it reads may not be committed yet)."""
    return _current(engine) is not None


def after_commit(engine: Engine, f: Callable[[], None]) -> None:
    """Run `f` now, or once the batch open on this thread has committed (alert delivery of batched cycles)."""
    batch = _batch.get()
    if batch is not None and batch.engine is engine:
        batch.after.append(f)
    else:
        f()
