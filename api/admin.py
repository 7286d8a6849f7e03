"""Account administration from the server's shell: `python -m api.admin promote EMAIL`.

The first operator is made here (registration only ever creates `user` accounts):

    python -m api.admin promote ada@example.com     # role operator: may run benchmarks
    python -m api.admin demote ada@example.com      # back to user
    python -m api.admin deactivate ada@example.com  # is_active false: every request 403
    python -m api.admin activate ada@example.com

It uses the service's settings (DATABASE_URL, or --database-url) and migrates the schema
first. Errors are one line on stderr with exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sqlalchemy.exc import DBAPIError

from api.core.database import Database
from api.repositories import users
from nogilbench.errors import NogilbenchError
from nogilbench.store.db import database_url

ACTIONS = {
    "promote": {"role": "operator"},
    "demote": {"role": "user"},
    "deactivate": {"is_active": False},
    "activate": {"is_active": True},
}


def change_user(url: str, action: str, email: str) -> str:
    """Apply `action` to the account `email`; the line to print. Raises LookupError."""
    database = Database(url)
    try:
        with database.session() as session:
            user = users.get_by_email(session, email.strip().lower())
            if user is None:
                raise LookupError(f"no account with the e-mail address {email!r}")
            for field, value in ACTIONS[action].items():
                setattr(user, field, value)
            session.add(user)
            session.commit()
            state = "active" if user.is_active else "inactive"
            return f"{user.email}: role {user.role}, {state}"
    finally:
        database.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m api.admin", description="Manage the image service's accounts."
    )
    parser.add_argument("action", choices=sorted(ACTIONS), help="what to change")
    parser.add_argument("email", help="the account's e-mail address")
    parser.add_argument("--database-url", help="default: $DATABASE_URL, else the SQLite file")
    args = parser.parse_args(argv)
    try:
        print(change_user(database_url(args.database_url), args.action, args.email))
    except LookupError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    except NogilbenchError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except DBAPIError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        print(f"error: database: {reason}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
