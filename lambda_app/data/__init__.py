"""The MySQL side: schema migrations, the demo seed, and the repositories the caching
patterns read and write through (errors in `errors`, identifier whitelists in `schema`)."""
