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

Bodies are capped (MAX_JSON_BYTES, MAX_CSV_BYTES) while they stream in, before anything parses them
(a chunked upload without Content-Length included); answers are capped by the grader's own limit
(2,000 characters, an `invalid` verdict like the command line's), uploads by MAX_CSV_ROWS, and the
work of a derivation or an upload by a time budget (STEPS_SECONDS, CSV_SECONDS). When the client
disconnects, its work is stopped (checkers.serve.engine: the worker or the job is killed). JSON
routes take only `Content-Type: application/json` and the upload only multipart/form-data; every
request must name this server by an IP address or `localhost` in Host (a DNS name there is how a
DNS-rebinding page reaches a local server), and a request a browser sends from another site's page
(an Origin other than this server's, or `Sec-Fetch-Site: cross-site`) is refused with 403. Header and
body reads have deadlines (DeadlineH11Protocol: HEADER_SECONDS, BODY_SECONDS), so a client that
trickles a request byte by byte loses its connection.
"""

from __future__ import annotations

import asyncio
import csv
import io
import ipaddress
import json
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from checkers.errors import UsageError
from checkers.resources import templates_directory
from checkers.serve.engine import Engine, Limits

MAX_JSON_BYTES = 256 * 1024  # a 200 KB answer still reaches the grader's own length check (and is refused there)
MAX_CSV_BYTES = 8 * 2 ** 20  # 1,000 students writing 2,000 characters each is 2 MB
FORM_OVERHEAD = 64 * 1024  # room for the multipart boundaries and the 'problem' field around the CSV
MAX_CSV_ROWS = 5_000  # answers per upload (a larger class is split, or graded with `proofcheck grade --csv`)
CSV_SECONDS = 600  # grading budget of one upload; past it the upload is stopped and refused
STEPS_SECONDS = 120  # budget of one derivation (60 lines that each hang take 60 x 2 s and more)
HEADER_SECONDS = 10  # a request's headers must arrive within this long of the client starting to wait
BODY_SECONDS = 30  # and its body within this long of its headers
TEMPLATES = templates_directory() / "serve"
STATIC = {"serve.js": "text/javascript; charset=utf-8", "serve.css": "text/css; charset=utf-8"}


class ApiError(Exception):
    """A bad request: answered as {"error": message} with `status` (never raised past the handlers)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class ClientGone(Exception):
    """The client disconnected before its answer was ready (its work was stopped; nothing is sent)."""


def _json(doc, status: int = 200) -> Response:
    try:
        text = json.dumps(doc, ensure_ascii=False, allow_nan=False)
    except ValueError:  # a non-finite number: strict JSON carries it as a string (the grader's convention)
        from checkers.grading.result import dumps

        text = dumps(doc, ensure_ascii=False)
    try:
        body = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in some text (requests are checked for them): sent escaped
        body = json.dumps(json.loads(text), ensure_ascii=True).encode("ascii")
    return Response(body, status_code=status, media_type="application/json")


def _unicode(value, where: str) -> None:
    """ApiError 400 if a string in this JSON value (keys included) is not Unicode text: a lone surrogate, which JSON's
    \\uD800-\\uDFFF escapes can carry and no UTF-8 text can."""
    todo = [(value, where)]
    while todo:
        item, path = todo.pop()
        if isinstance(item, dict):
            todo.extend((k, f"a key of {path}") for k in item)
            todo.extend((v, f"{path}[{json.dumps(k, ensure_ascii=True)}]" if path != "the request" else
                         f"the {json.dumps(k, ensure_ascii=True)} field") for k, v in item.items())
        elif isinstance(item, list):
            todo.extend((v, f"{path}[{i}]") for i, v in enumerate(item))
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ApiError(400, f"{path} is not Unicode text: character {exc.start + 1} is the lone surrogate "
                                    f"\\u{ord(item[exc.start]):04x} (a \\uD800-\\uDFFF escape without its pair); "
                                    f"send the text as UTF-8") from None


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
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise ApiError(415, f"send the request as JSON with the header 'Content-Type: application/json' (got "
                            f"{media_type or 'no Content-Type'!r})")
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
    _unicode(doc, "the request")
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


def _client(request: Request):
    """Who asks, for the fair queues: the client's address (all the clients of one machine are one)."""
    return request.client.host if request.client else None


async def _disconnected(request: Request) -> None:
    """Return when the client disconnects (call once the body has been read: then only a disconnect arrives)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _unless_client_leaves(request: Request, work, budget: float | None = None, doing: str = ""):
    """Await the engine's coroutine `work`; cancel it (the engine then stops the work) if the client disconnects
    (ClientGone) or `budget` seconds pass (ApiError 413 saying `doing` took too long)."""
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        done, _ = await asyncio.wait({task, gone}, timeout=budget, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # the server is stopping
        task.cancel()
        raise
    finally:
        gone.cancel()
    if task in done:
        return task.result()
    task.cancel()
    await asyncio.wait([task])
    if gone in done:
        raise ClientGone()
    raise ApiError(413, f"{doing} took more than the server's budget of {budget:g} s and was stopped")


def _handler(fn):
    """Turn ApiError into its JSON answer, and any other exception into a 500 that says it is our bug."""
    async def wrapped(request: Request) -> Response:
        try:
            return await fn(request)
        except (ClientGone, ClientDisconnect):
            return Response(status_code=499)  # (nobody reads it: the connection is gone)
        except ApiError as exc:
            response = _json({"error": exc.message}, exc.status)
            if exc.status == 413:  # the rest of the body is not read: close the connection rather than drain it
                response.headers["Connection"] = "close"
            return response
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
    engine = request.app.state.engine
    return _json(await _unless_client_leaves(request, engine.grade(problem, doc["answer"], full=full,
                                                                   client=_client(request))))


@_handler
async def read(request: Request) -> Response:
    doc = await _request_doc(request, ("problem", "answer"))
    problem = await _problem(request, doc["problem"])
    engine = request.app.state.engine
    return _json(await _unless_client_leaves(request, engine.read(problem, doc["answer"], client=_client(request))))


@_handler
async def check_steps(request: Request) -> Response:
    doc = await _request_doc(request, ("problem", "derivation"))
    problem = await _problem(request, doc["problem"])
    engine = request.app.state.engine
    return _json(await _unless_client_leaves(request, engine.check_steps(problem, doc["derivation"],
                                                                         client=_client(request)),
                                             STEPS_SECONDS, "checking this derivation"))


def _rows(data: bytes) -> int:
    """How many answer rows a CSV upload holds (its records less the header), as Python's csv module reads them."""
    text = data.decode("utf-8", errors="replace")
    return max(0, sum(1 for record in csv.reader(io.StringIO(text, newline="")) if record) - 1)


@_handler
async def grade_csv(request: Request) -> Response:
    cap = MAX_CSV_BYTES + FORM_OVERHEAD
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise ApiError(413, f"the upload is {int(declared):,} bytes; the limit is {MAX_CSV_BYTES:,} bytes "
                            f"(split the class into several files)")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(415, "send the CSV as multipart/form-data with fields 'problem' and 'file'")
    try:  # counted as it streams in (chunked uploads declare no length), before the form parser sees a byte
        body = await _body(request, cap)
    except ApiError:
        raise ApiError(413, f"the upload is over the limit of {MAX_CSV_BYTES:,} bytes (split the class into "
                            f"several files)") from None
    sent = False

    async def replay():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async with Request(request.scope, replay).form(max_files=1, max_fields=4) as form:
        upload, problem_id = form.get("file"), form.get("problem")
        if upload is None or isinstance(upload, str):
            raise ApiError(400, "the form has no 'file' (the CSV with columns id,answer)")
        if not isinstance(problem_id, str):
            raise ApiError(400, "the form has no 'problem' field")
        _unicode(problem_id, "the 'problem' field")
        problem = await _problem(request, problem_id)
        data = await upload.read(MAX_CSV_BYTES + 1)
        if len(data) > MAX_CSV_BYTES:
            raise ApiError(413, f"the CSV is over the limit of {MAX_CSV_BYTES:,} bytes (split the class into "
                                f"several files)")
    rows = await asyncio.to_thread(_rows, data)
    if rows > MAX_CSV_ROWS:
        raise ApiError(413, f"the CSV has {rows:,} answers; the limit is {MAX_CSV_ROWS:,} per upload (split the "
                            f"class into several files, or grade it with `proofcheck grade --csv`, which resumes)")
    engine = request.app.state.engine
    return _json(await _unless_client_leaves(request, engine.grade_csv(problem, data, client=_client(request)),
                                             CSV_SECONDS, "grading this upload"))


# -- who may ask, and how fast they must ask ---------------------------------------------------------
def _host_name(host: str) -> str:
    """The name part of a Host header: 'localhost:8000' -> 'localhost', '[::1]:8000' -> '::1'."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _names_this_machine(name: str) -> bool:
    if name.lower() == "localhost":
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class SameOrigin:
    """ASGI middleware: 403 unless Host names the server by an IP address or `localhost` (a DNS name is what a
    DNS-rebinding page would send), and, for requests other than GET and HEAD, unless any Origin is this server's own
    (`http://` + Host) and the browser does not say the request is cross-site."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is not None:
                await _json({"error": refusal}, 403)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _refusal(scope) -> str | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if not _names_this_machine(_host_name(host)):
            return (f"Host {host[:100]!r} is not this server's address; use http://127.0.0.1:PORT/ or "
                    f"http://localhost:PORT/ (a DNS name is refused: it is how another site's page would reach it)")
        if scope["method"] in ("GET", "HEAD"):
            return None
        origin = headers.get("origin")
        if origin is not None and origin != f"http://{host}":
            return f"a request from another site's page (Origin {origin[:100]!r}) is refused"
        if headers.get("sec-fetch-site") == "cross-site":
            return "a request from another site's page (Sec-Fetch-Site: cross-site) is refused"
        return None


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 connection with read deadlines: a request's headers must be in HEADER_SECONDS after the server
    starts waiting for them, and its body BODY_SECONDS after the headers; otherwise the connection is closed (the
    request's work, if any, is stopped as for a client that left). Slowloris clients cannot keep connections open."""

    def connection_made(self, transport) -> None:
        self._deadline = None
        self._phase = None
        super().connection_made(transport)
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc) -> None:
        self._arm(None)
        super().connection_lost(exc)

    def _watch(self) -> None:
        """Arm the deadline of the phase the client is in (once per phase, not per byte)."""
        import h11

        state = self.conn.their_state
        phase = "headers" if state is h11.IDLE else "body" if state is h11.SEND_BODY else None
        if phase != self._phase:
            self._phase = phase
            self._arm({"headers": HEADER_SECONDS, "body": BODY_SECONDS}.get(phase))

    def _arm(self, seconds: float | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if seconds is not None:
            self._deadline = self.loop.call_later(seconds, self._expire)

    def _expire(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


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
        # Every borrowed pool and every running job waits on its worker in a thread of its own: enough threads
        # that none of them waits for a thread (asyncio's default is 4 more than the cores).
        from concurrent.futures import ThreadPoolExecutor

        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=64,
                                                                           thread_name_prefix="proofcheck-serve"))

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

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})
    app.add_middleware(SameOrigin)
    return app
