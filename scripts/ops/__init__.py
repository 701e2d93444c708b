"""Operator CLI: ``python -m scripts.ops <command>`` (deploy, verify, smoke, load, ...).

Each subcommand lives in its own module with a ``register(subparsers)`` function; the
shared pieces (HTTP client, output, AWS session, project layout) are small modules
beside them so the benchmark suite can reuse them.
"""
