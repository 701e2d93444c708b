"""The service layer the HTTP API calls: domain operations over the caching patterns.

``get_services()`` returns the process-wide :class:`Services`; errors are the domain
exceptions of :mod:`lambda_app.services.errors`, never HTTP shapes.
"""

from lambda_app.services.container import Services, build_services, get_services, reset_services

__all__ = ["Services", "build_services", "get_services", "reset_services"]
