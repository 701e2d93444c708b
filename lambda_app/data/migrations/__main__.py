"""`python -m lambda_app.data.migrations [--create-database]`: migrate the DB_* database."""

from __future__ import annotations

import argparse
import sys

from lambda_app.clients.errors import ServerUnavailable
from lambda_app.clients.mysql import connect
from lambda_app.config_types import ConfigError
from lambda_app.data.errors import MigrationError
from lambda_app.data.migrations import create_database, migrate
from lambda_app.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lambda_app.data.migrations")
    parser.add_argument(
        "--create-database", action="store_true", help="CREATE DATABASE DB_NAME if missing"
    )
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env().db
        if args.create_database:
            create_database(settings)
        conn = connect(settings)
        try:
            applied = migrate(conn)
        finally:
            conn.close()
    except (ConfigError, ServerUnavailable, MigrationError) as exc:
        print(f"migrations: {exc}", file=sys.stderr)
        return 1
    print(f"migrations: applied {applied}" if applied else "migrations: up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
