"""`proofcheck serve`: a local web server (Starlette on uvicorn) with the grading page and a JSON API.

    from checkers.serve import create_app, serve
    serve(host="127.0.0.1", port=8000, workers=2)   # blocks until SIGINT / SIGTERM; stops every worker

See checkers.serve.app for the routes and checkers.serve.engine for the warm worker pools.
"""

from __future__ import annotations

from checkers.limits import DEFAULT_MEMORY_MB, DEFAULT_TIME_LIMIT

__all__ = ["create_app", "serve"]


def create_app(*args, **kwargs):
    """The Starlette application (see checkers.serve.app.create_app)."""
    from checkers.serve.app import create_app as make

    return make(*args, **kwargs)


def serve(host: str = "127.0.0.1", port: int = 8000, workers: int | None = None, *,
          time_limit: float = DEFAULT_TIME_LIMIT, memory_mb: int = DEFAULT_MEMORY_MB) -> None:
    """Run the server until SIGINT or SIGTERM (uvicorn's h11 loop with read deadlines, one process, warm grading
    workers)."""
    import uvicorn

    from checkers.serve.app import DeadlineH11Protocol
    from checkers.serve.engine import Limits

    app = create_app(workers=workers, limits=Limits(time_limit=time_limit, memory_mb=memory_mb))
    config = uvicorn.Config(app, host=host, port=port, loop="asyncio", http=DeadlineH11Protocol, lifespan="on",
                            log_level="warning", access_log=False, timeout_graceful_shutdown=5)
    uvicorn.Server(config).run()
