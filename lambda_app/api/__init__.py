"""The HTTP API: a Powertools resolver whose routes call the services and shape answers.

``app.py`` builds the resolver; ``routes/`` holds one router per resource; ``models.py``
the request/response contract; ``errors.py`` the one exception-to-HTTP mapping;
``middlewares.py`` what runs before every route.
"""
