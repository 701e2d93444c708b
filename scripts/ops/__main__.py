"""``python -m scripts.ops``: the operator CLI."""

from scripts.ops.cli import main

raise SystemExit(main())
