"""``restore serve``: a web service in front of the one runner.

``create_app(settings)`` (``restore.app.web.server``) builds the FastAPI app;
jobs wait in a SQLite queue (``store``) and run in worker processes
(``worker``) that a supervisor thread keeps alive (``supervisor``).
"""
