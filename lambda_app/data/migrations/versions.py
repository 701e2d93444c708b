"""The schema, as numbered migrations. Append new versions; never edit an applied one.

Portable SQL only: it runs unchanged on RDS MySQL 8.4 and MariaDB 10.11 (no RETURNING,
no MySQL-only collations, explicit utf8mb4_unicode_ci). Each statement is safe to rerun
(IF NOT EXISTS) because DDL commits implicitly: a migration interrupted half-way is
simply applied again.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


_TABLE_OPTIONS = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        name="products, users, sessions, orders",
        statements=(
            # idx views / idx sales: top-N for cache warming reads the index backwards.
            f"""
            CREATE TABLE IF NOT EXISTS products (
                id INT NOT NULL AUTO_INCREMENT,
                name VARCHAR(200) NOT NULL,
                price DECIMAL(10,2) NOT NULL,
                description TEXT NOT NULL,
                views INT NOT NULL DEFAULT 0,
                sales INT NOT NULL DEFAULT 0,
                updated_at TIMESTAMP(6) NOT NULL
                    DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
                PRIMARY KEY (id),
                KEY idx_products_views (views),
                KEY idx_products_sales (sales)
            ) {_TABLE_OPTIONS}
            """,
            # The collation makes the unique email index case-insensitive.
            f"""
            CREATE TABLE IF NOT EXISTS users (
                id INT NOT NULL AUTO_INCREMENT,
                name VARCHAR(200) NOT NULL,
                email VARCHAR(255) NOT NULL,
                age INT NULL,
                created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                PRIMARY KEY (id),
                UNIQUE KEY uq_users_email (email)
            ) {_TABLE_OPTIONS}
            """,
            # Tokens are case-sensitive secrets: ascii_bin, not the table's _ci collation.
            f"""
            CREATE TABLE IF NOT EXISTS sessions (
                token CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
                user_id INT NOT NULL,
                created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                last_active TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                PRIMARY KEY (token),
                KEY idx_sessions_user (user_id),
                CONSTRAINT fk_sessions_user FOREIGN KEY (user_id)
                    REFERENCES users (id) ON DELETE CASCADE
            ) {_TABLE_OPTIONS}
            """,
            # (created_at, user_id, amount) covers the dashboard's time-window aggregate,
            # so it reads the index only.
            f"""
            CREATE TABLE IF NOT EXISTS orders (
                id INT NOT NULL AUTO_INCREMENT,
                user_id INT NOT NULL,
                amount DECIMAL(10,2) NOT NULL,
                created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                PRIMARY KEY (id),
                KEY idx_orders_user (user_id),
                KEY idx_orders_created (created_at, user_id, amount)
            ) {_TABLE_OPTIONS}
            """,
        ),
    ),
    Migration(
        version=2,
        name="credentials",
        statements=(
            # Password hashes live apart from the user rows, so no query that feeds the
            # user cache can ever read one. One row per user; gone with the user.
            f"""
            CREATE TABLE IF NOT EXISTS credentials (
                user_id INT NOT NULL,
                password_hash VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
                updated_at TIMESTAMP(6) NOT NULL
                    DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
                PRIMARY KEY (user_id),
                CONSTRAINT fk_credentials_user FOREIGN KEY (user_id)
                    REFERENCES users (id) ON DELETE CASCADE
            ) {_TABLE_OPTIONS}
            """,
        ),
    ),
    Migration(
        version=3,
        name="emails compared in their normal form",
        statements=(
            # Emails are stored NFKC + case folded (lambda_app.auth.emails); the unique
            # index must compare exactly that, not unicode_ci's looser equality, or one
            # account answers to spellings the login limit counts apart.
            """
            ALTER TABLE users MODIFY email VARCHAR(255)
                CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL
            """,
        ),
    ),
)
