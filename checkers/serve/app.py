"""The HTTP surface of `proofcheck serve`: the page, its static files and the JSON API, as a Starlette application.

Routes (every JSON answer is strict JSON; an error is {"error": message} with a 4xx status, or 500
for a bug of the server, never for a student's answer):

    GET  /                  the page (templates/serve/index.html, serve.js, serve.css: nothing from the network)
    GET  /api/health        {"ok": true, "ready": bool}: ready once the first problem is warm and the catalog loaded
    GET  /api/problems      {"problems": [{id, title, source, statement, statement_html, symbols, dims, exact}]}
    POST /api/grade         {"problem", "answer"[, "full": true]} -> the `proofcheck grade --json` document
    POST /api/read          {"problem", "answer"} -> {"ok": true, "mathml", "words"} or {"ok": false, "message"}
    POST /api/check-steps   {"problem", "derivation"} -> the `proofcheck check-steps --json` report
    POST /api/grade-csv     multipart form: problem, file (id,answer CSV) -> counts, graded CSV, class analysis

Bodies are capped (MAX_JSON_BYTES, MAX_CSV_BYTES) before they are read whole; answers are capped by
the grader's own limit (2,000 characters, an `invalid` verdict like the command line's).
"""

from __future__ import annotations

import json
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from checkers.errors import UsageError
from checkers.resources import templates_directory
from checkers.serve.engine import Engine, Limits

MAX_JSON_BYTES = 256 * 1024  # a 200 KB answer still reaches the grader's own length check (and is refused there)
MAX_CSV_BYTES = 8 * 2 ** 20  # 1,000 students writing 2,000 characters each is 2 MB
TEMPLATES = templates_directory() / "serve"
STATIC = {"serve.js": "text/javascript; charset=utf-8", "serve.css": "text/css; charset=utf-8"}


class ApiError(Exception):
    """A bad request: answered as {"error": message} with `status` (never raised past the handlers)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _json(doc, status: int = 200) -> Response:
    try:
        text = json.dumps(doc, ensure_ascii=False, allow_nan=False)
    except ValueError:  # a non-finite number: strict JSON carries it as a string (the grader's convention)
        from checkers.grading.result import dumps

        text = dumps(doc, ensure_ascii=False)
    return Response(text, status_code=status, media_type="application/json")


async def _body(request: Request, cap: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise ApiError(413, f"the request body is {int(declared):,} bytes; the limit is {cap:,} bytes")
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > cap:
            raise ApiError(413, f"the request body is over the limit of {cap:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _request_doc(request: Request, fields: tuple[str, ...]) -> dict:
    """The JSON object of the body with these string fields present; ApiError 400 naming what is wrong."""
    body = await _body(request, MAX_JSON_BYTES)
    try:
        doc = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"the request body is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} column "
                            f"{exc.colno}") from None
    except RecursionError:
        raise ApiError(400, "the request body is JSON nested too deeply") from None
    if not isinstance(doc, dict):
        raise ApiError(400, f"the request body must be a JSON object with {', '.join(fields)} "
                            f"(got a JSON {type(doc).__name__})")
    for name in fields:
        if name not in doc:
            raise ApiError(400, f"the request has no {name!r} field; give {', '.join(repr(f) for f in fields)}")
        if not isinstance(doc[name], str):
            raise ApiError(400, f"{name!r} must be a string (got a JSON {type(doc[name]).__name__})")
    return doc


async def _problem(request: Request, problem_id) -> str:
    try:
        return await request.app.state.engine.problem_id(problem_id)
    except UsageError as exc:
        raise ApiError(404, str(exc)) from None


def _handler(fn):
    """Turn ApiError into its JSON answer, and any other exception into a 500 that says it is our bug."""
    async def wrapped(request: Request) -> Response:
        try:
            return await fn(request)
        except ApiError as exc:
            return _json({"error": exc.message}, exc.status)
        except HTTPException as exc:  # e.g. a malformed multipart form (Starlette's parser says what is wrong)
            return _json({"error": str(exc.detail)}, exc.status_code)
        except UsageError as exc:
            return _json({"error": str(exc)}, 400)
        except Exception as exc:  # a server bug: said so, never blamed on the request
            return _json({"error": f"internal error of the server (a bug in proofcheck, not in your request; please "
                                   f"report it): {type(exc).__name__}: {str(exc)[:300]}"}, 500)

    wrapped.__name__ = fn.__name__
    return wrapped


# -- the page --------------------------------------------------------------------------------------
async def page(request: Request) -> Response:
    return Response((TEMPLATES / "index.html").read_bytes(), media_type="text/html; charset=utf-8",
                    headers={"Cache-Control": "no-cache"})


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in STATIC:
        return _json({"error": f"no such file: /{name}"}, 404)
    return Response((TEMPLATES / name).read_bytes(), media_type=STATIC[name], headers={"Cache-Control": "no-cache"})


# -- the API ---------------------------------------------------------------------------------------
@_handler
async def health(request: Request) -> Response:
    return _json({"ok": True, "ready": request.app.state.ready})


@_handler
async def list_problems(request: Request) -> Response:
    return _json({"problems": await request.app.state.engine.catalog()})


@_handler
async def grade(request: Request) -> Response:
    doc = await _request_doc(request, ("problem", "answer"))
    problem = await _problem(request, doc["problem"])
    full = doc.get("full", False)
    if not isinstance(full, bool):
        raise ApiError(400, f"'full' must be true or false (got {json.dumps(full)[:40]})")
    return _json(await request.app.state.engine.grade(problem, doc["answer"], full=full))


@_handler
async def read(request: Request) -> Response:
    doc = await _request_doc(request, ("problem", "answer"))
    problem = await _problem(request, doc["problem"])
    return _json(await request.app.state.engine.read(problem, doc["answer"]))


@_handler
async def check_steps(request: Request) -> Response:
    doc = await _request_doc(request, ("problem", "derivation"))
    problem = await _problem(request, doc["problem"])
    return _json(await request.app.state.engine.check_steps(problem, doc["derivation"]))


@_handler
async def grade_csv(request: Request) -> Response:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_CSV_BYTES + 64 * 1024:
        raise ApiError(413, f"the upload is {int(declared):,} bytes; the limit is {MAX_CSV_BYTES:,} bytes "
                            f"(split the class into several files)")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(415, "send the CSV as multipart/form-data with fields 'problem' and 'file'")
    async with request.form(max_files=1, max_fields=4) as form:
        upload, problem_id = form.get("file"), form.get("problem")
        if upload is None or isinstance(upload, str):
            raise ApiError(400, "the form has no 'file' (the CSV with columns id,answer)")
        if not isinstance(problem_id, str):
            raise ApiError(400, "the form has no 'problem' field")
        problem = await _problem(request, problem_id)
        data = await upload.read(MAX_CSV_BYTES + 1)
        if len(data) > MAX_CSV_BYTES:
            raise ApiError(413, f"the CSV is over the limit of {MAX_CSV_BYTES:,} bytes (split the class into "
                                f"several files)")
    return _json(await request.app.state.engine.grade_csv(problem, data))


def create_app(workers: int | None = None, limits: Limits = Limits(), warm: tuple[str, ...] | None = None) -> Starlette:
    """The application; the engine (and its workers) lives from start-up to shutdown.

    `warm` names the problems warmed at start-up (the others are warmed when first asked for); by default
    those the proof packages declare (`WARM_FIRST` in a package's `__init__`, see checkers.registry).
    """
    if warm is None:
        from checkers.registry import warm_first

        warm = warm_first()

    @asynccontextmanager
    async def lifespan(app: Starlette):
        import asyncio

        app.state.engine = Engine(workers=workers, limits=limits)
        app.state.ready = False

        async def warm_up():
            await app.state.engine.warm_up(list(warm))
            app.state.ready = True

        task = asyncio.get_running_loop().create_task(warm_up())
        try:
            yield
        finally:
            task.cancel()
            await app.state.engine.close()

    routes = [
        Route("/", page),
        Route("/api/health", health),
        Route("/api/problems", list_problems),
        Route("/api/grade", grade, methods=["POST"]),
        Route("/api/read", read, methods=["POST"]),
        Route("/api/check-steps", check_steps, methods=["POST"]),
        Route("/api/grade-csv", grade_csv, methods=["POST"]),
        Route("/{name}", static),
    ]

    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _json({"error": f"{exc.detail}: {request.method} {request.url.path}"}, exc.status_code)

    return Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})
