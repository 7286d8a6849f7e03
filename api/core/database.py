"""The service's database: one engine, both migration chains, outage-tolerant start-up.

The app starts even when the database is down (the log says so); `ensure_ready` retries
the migrations on the next request, so the service recovers by itself when the database
comes back. Until then every request that needs it answers 503 DATABASE_UNAVAILABLE.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

import nogilbench
from nogilbench.errors import StoreUnavailable
from nogilbench.store.db import check_connection, make_engine, migrate, safe_url

logger = logging.getLogger("api.core.database")

LIBRARY_MIGRATIONS = Path(nogilbench.__file__).resolve().parent / "store" / "migrations"
API_MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
LIBRARY_VERSION_TABLE = "alembic_version_nogilbench"
API_VERSION_TABLE = "alembic_version_api"


class Database:
    def __init__(
        self, url: str, *, run_migrations: bool = True, pool: dict[str, float] | None = None
    ) -> None:
        self.url = url
        self.engine: Engine = make_engine(url, check=False, pool=pool)
        self._run_migrations = run_migrations
        self._ready = not run_migrations
        self._lock = threading.Lock()

    @property
    def display_url(self) -> str:
        return safe_url(self.url)

    def ensure_ready(self) -> None:
        """Migrate once (both chains); raise StoreUnavailable while the database is down."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            # Migrations take two connections at once on PostgreSQL (the advisory lock and
            # Alembic's): a throw-away engine of their own, so a small request pool suffices.
            separate = self.engine.url.database not in (None, "", ":memory:")
            engine = make_engine(self.url, check=False) if separate else self.engine
            try:
                check_connection(self.engine)
                migrate(engine, LIBRARY_MIGRATIONS, LIBRARY_VERSION_TABLE)
                migrate(engine, API_MIGRATIONS, API_VERSION_TABLE)
            except DBAPIError as exc:
                reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
                raise StoreUnavailable(f"cannot migrate the database: {reason}") from None
            finally:
                if engine is not self.engine:
                    engine.dispose()
            self._ready = True
            logger.info("database ready at %s", self.display_url)

    def check(self) -> None:
        """SELECT 1 (and the pending migrations); raises StoreUnavailable."""
        check_connection(self.engine)
        self.ensure_ready()

    @property
    def ready(self) -> bool:
        """Migrated: sessions may be opened without `ensure_ready` doing any I/O."""
        return self._ready

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A plain session (callers commit); the schema is made ready first."""
        self.ensure_ready()
        with self.new_session() as session:
            yield session

    def new_session(self) -> Session:
        """A plain session, not connected yet (it connects on first use); the caller closes
        it and has made the schema ready (`ensure_ready`)."""
        return Session(self.engine, expire_on_commit=False)

    def dispose(self) -> None:
        self.engine.dispose()
