"""Engines for the results database: SQLite by default, PostgreSQL by URL.

`DATABASE_URL` (or an explicit URL) picks the database; the default is a SQLite file under
the project's `data/` folder. SQLite runs in WAL mode with a busy timeout so the API's
concurrent writers and a running sweep do not fail with "database is locked".
Schema changes go through Alembic (`migrate`), never `create_all`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlmodel import Session

from nogilbench.errors import StoreUnavailable
from nogilbench.paths import PROJECT_ROOT

DEFAULT_SQLITE_PATH = PROJECT_ROOT / "data" / "nogilbench.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000
MIGRATION_LOCK_KEY = 0x6E6F67696C  # any constant shared by every nogilbench process


def database_url(explicit: str | None = None) -> str:
    """The URL to use: explicit argument, then $DATABASE_URL, then the SQLite default."""
    return explicit or os.environ.get("DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE_PATH}"


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable URL>"


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _create_private_file(path: Path) -> None:
    """Create the SQLite file (and its folder) mode 0600 if it does not exist yet; SQLite
    gives its -wal and -shm files the database file's mode."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnavailable(f"cannot create {path.parent} for SQLite: {exc.strerror}") from None
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreUnavailable(f"cannot create the SQLite file {path}: {exc.strerror}") from None


def make_engine(
    url: str | None = None, *, check: bool = True, pool: dict[str, float] | None = None
) -> Engine:
    """Create an engine; with `check`, connect once and raise StoreUnavailable if that fails.

    `pool`: QueuePool sizing (`pool_size`, `max_overflow`, `pool_timeout`) for a long-lived
    server; ignored for an in-memory SQLite database, which has a single connection.
    """
    resolved = database_url(url)
    try:
        parsed = make_url(resolved)
    except ArgumentError:
        raise StoreUnavailable(f"not a database URL: {resolved!r}") from None
    is_sqlite = parsed.get_backend_name() == "sqlite"
    in_memory = is_sqlite and parsed.database in (None, "", ":memory:")
    pool_options = {} if in_memory or not pool else dict(pool)
    try:
        if is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                _create_private_file(Path(parsed.database))
            engine = create_engine(
                parsed,
                connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
                **pool_options,
                hide_parameters=True,
            )
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(
                parsed,
                # Errors and logs never show bound values (a password hash, a token id).
                hide_parameters=True,
                pool_pre_ping=True,
                connect_args={"connect_timeout": 5}
                if parsed.get_backend_name() == "postgresql"
                else {},
                **pool_options,
            )
    except (NoSuchModuleError, ImportError) as exc:
        hint = "for PostgreSQL use postgresql+psycopg://..."
        raise StoreUnavailable(f"no driver for {parsed.drivername!r} ({hint}): {exc}") from None
    if check:
        check_connection(engine)
    return engine


def check_connection(engine: Engine) -> None:
    """Run `SELECT 1`; raise StoreUnavailable with a one-line reason if it fails."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except (OperationalError, SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0]
        where = safe_url(engine.url.render_as_string(hide_password=False))
        raise StoreUnavailable(f"cannot reach the database at {where}: {reason}") from None


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(engine) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Serialise migrations across processes (a sweep and the API may start together)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            try:
                yield
            finally:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                connection.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    import fcntl

    with open(f"{database}.migrate-lock", "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def migrate(engine: Engine, script_location: Path, version_table: str) -> None:
    """Bring the schema to the newest Alembic revision of `script_location`.

    Each component (library, API) keeps its own migration chain and version table, so the
    library never needs to know the API's tables and both can live in one database.
    """
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["connection_engine"] = engine
    config.attributes["version_table"] = version_table
    try:
        with _migration_lock(engine):
            command.upgrade(config, "head")
    except OperationalError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise StoreUnavailable(f"cannot migrate the database: {reason}") from None
