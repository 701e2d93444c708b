"""The dashboard aggregate (scenario 4): cached 5 minutes, stampede-protected."""

from __future__ import annotations

from lambda_app.caching.aggregates import AggregateCache
from lambda_app.caching.lookup import Lookup
from lambda_app.data.base import Row
from lambda_app.data.repositories import StatsRepository
from lambda_app.services.errors import domain_errors

DASHBOARD = "stats"
WINDOW_HOURS = 24


class StatsService:
    def __init__(self, repo: StatsRepository, aggregates: AggregateCache) -> None:
        self.repo = repo
        self.aggregates = aggregates

    def _compute(self) -> Row:
        return self.repo.dashboard(WINDOW_HOURS)

    def dashboard(self) -> Lookup:
        """Orders of the last 24 h (total_users, total_sales, avg_order, orders,
        window_hours) in ``lookup.value``; at most one caller recomputes at a time."""
        with domain_errors():
            return self.aggregates.get(DASHBOARD, self._compute)

    def refresh(self) -> bool:
        """Recompute and store now (a scheduled warm); False if the cache refused it."""
        with domain_errors():
            return self.aggregates.refresh(DASHBOARD, self._compute)
