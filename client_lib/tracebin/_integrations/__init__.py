"""Hooks into the host: excepthooks, logging, WSGI/ASGI middleware, jobs, signals and fork."""
