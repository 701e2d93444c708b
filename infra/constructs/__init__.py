"""Reusable pieces (cache, database, function, API, monitoring); stacks wire them together."""
