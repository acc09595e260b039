r"""`proofcheck serve` under abuse, against real server processes: body caps while streaming, work stopped when
its client leaves, a fast lane that slow answers cannot take, read deadlines, cross-site requests, lone surrogates.

No assertion here is a wall-clock bound: each waits on a condition (a worker replaced, a job process gone, a
response arrived) with a deadline far above what the fixed server needs, and far below what the unfixed one
would take (answers that run for tens of seconds). Figures go to benchmarks/serve_bench.py.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import pytest

httpx = pytest.importorskip("httpx", reason="httpx not installed (pip install -e '.[test]')")

from serve_process import Server, alive, descendants  # noqa: E402

KL = "kl-gaussian"
# A triple sum of 10^12 terms: it runs until the time limit stops it (the slowest answer the red team found).
TRIPLE_SUM = r"\sum_{i=1}^{10^{4}}\sum_{j=1}^{10^{4}}\sum_{k=1}^{10^{4}} i"
SLOW_LIMIT = "40"  # seconds per answer on the servers below: a slow answer holds its worker this long, unless stopped


def wait_until(condition, seconds: float, what: str, step: float = 0.2):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"{what}: not within {seconds:g} s")


def raw_request(url: str, path: str, body: bytes, content_type: str = "application/json") -> socket.socket:
    """Send a complete POST on a fresh socket and return the socket without reading the answer (to drop it)."""
    port = int(url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return sock


def multipart(fields: dict[str, str], csv_text: str, boundary: str = "proofcheckboundary") -> tuple[bytes, str]:
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
                 f"Content-Type: text/csv\r\n\r\n{csv_text}\r\n--{boundary}--\r\n")
    return "".join(parts).encode(), f"multipart/form-data; boundary={boundary}"


# -- item 6: the upload cap holds while the body streams in --------------------------------------------
def test_a_chunked_upload_without_length_is_refused_once_past_the_cap(server):
    """Before the fix the form parser spooled the whole body to /tmp and only then said 413."""
    port = server.port
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall(f"POST /api/grade-csv HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTransfer-Encoding: chunked\r\n"
                 f"Content-Type: multipart/form-data; boundary=XX\r\n\r\n".encode())
    head = b'--XX\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
    sock.sendall(b"%x\r\n%s\r\n" % (len(head), head))
    chunk = b"a,d\n" * 2 ** 18  # 1 MiB
    sent, offered = 0, 256 * 2 ** 20
    try:
        while sent < offered:
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
    except OSError:  # the server answered and closed the connection: the rest was never read
        pass
    answer = b""
    try:
        while b"\r\n\r\n" not in answer:
            got = sock.recv(65536)
            if not got:
                break
            answer += got
    except OSError:
        pass
    sock.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 64 * 2 ** 20, f"the server read {sent / 2 ** 20:.0f} MiB before refusing an 8 MiB cap"


# -- item 7: work stops when its client leaves; uploads are capped -----------------------------------
def test_a_slow_answer_is_stopped_when_its_client_leaves():
    with Server("--workers", "1", "--time-limit", SLOW_LIMIT) as s:
        s.wait_ready()
        workers = set(descendants(s.process.pid))
        sock = raw_request(s.url, "/api/grade", json.dumps({"problem": KL, "answer": TRIPLE_SUM}).encode())
        time.sleep(1.0)  # it reaches the only worker and runs there
        sock.close()
        wait_until(lambda: not any(alive(p) for p in workers), 25,
                   f"the worker grading for a client that left was not stopped (it would run {SLOW_LIMIT} s)")
        with httpx.Client(base_url=s.url, timeout=60) as c:  # a fresh worker took its place
            assert c.post("/api/grade", json={"problem": KL, "answer": "d"}).json()["verdict"] == "incorrect"


@pytest.mark.parametrize("route", ["check-steps", "grade-csv"])
def test_a_derivation_or_upload_is_stopped_with_its_workers_when_its_client_leaves(route):
    with Server("--workers", "2", "--time-limit", SLOW_LIMIT) as s:
        s.wait_ready()
        before = set(descendants(s.process.pid))
        if route == "check-steps":
            lines = [f"D &= {TRIPLE_SUM} + {n}" for n in range(20)]  # each line's sum runs until stopped
            body = json.dumps({"problem": KL, "derivation": " \\\\\n".join(lines)}).encode()
            sock = raw_request(s.url, "/api/check-steps", body)
        else:
            rows = "id,answer\n" + "".join(f'{i},"{TRIPLE_SUM}"\n' for i in range(200))
            body, content_type = multipart({"problem": KL}, rows)
            sock = raw_request(s.url, "/api/grade-csv", body, content_type)
        started = wait_until(lambda: set(descendants(s.process.pid)) - before, 60, "the work never started")
        time.sleep(1.0)
        started = set(descendants(s.process.pid)) - before
        sock.close()
        wait_until(lambda: not any(alive(p) for p in started), 25,
                   f"{len(started)} processes working for a client that left were not stopped")
        assert all(alive(p) for p in before)  # the warm pools were not touched


def test_an_upload_over_the_row_cap_is_refused_before_grading(client):
    from checkers.serve.app import MAX_CSV_ROWS

    rows = "id,answer\n" + "".join(f"s{i},d\n" for i in range(MAX_CSV_ROWS + 1))
    response = client.post("/api/grade-csv", data={"problem": KL},
                           files={"file": ("answers.csv", rows.encode(), "text/csv")})
    assert response.status_code == 413
    assert f"{MAX_CSV_ROWS + 1:,} answers; the limit is {MAX_CSV_ROWS:,}" in response.json()["error"]


def test_waiting_requests_are_served_one_client_at_a_time():
    from checkers.serve.engine import FairQueue

    async def scenario() -> list[str]:
        queue, served = FairQueue(), []
        queue.put("the only slot")
        slot = await queue.get("a")  # client a holds it, then queues three more; b queues one after them

        async def ask(client: str):
            got = await queue.get(client)
            served.append(client)
            await asyncio.sleep(0)
            queue.put(got)

        tasks = [asyncio.ensure_future(ask(c)) for c in ("a", "a", "a", "b")]
        await asyncio.sleep(0)
        cancelled = asyncio.ensure_future(queue.get("c"))  # a waiter that leaves: its place is not lost
        await asyncio.sleep(0)
        cancelled.cancel()
        await asyncio.sleep(0)
        queue.put(slot)
        await asyncio.gather(*tasks)
        assert queue.free == ["the only slot"] and not queue.waiting
        return served

    assert asyncio.run(scenario()) == ["b", "a", "a", "a"]


def test_a_client_queueing_many_derivations_does_not_go_before_another_client():
    """Client A (from 127.0.0.2) fills both derivation slots and queues a third; client B (127.0.0.1) asks after it
    and gets the first slot that frees. In arrival order B would wait for A's third and for A's long one."""
    from checkers.serve.engine import MAX_STEPS_AT_ONCE

    assert MAX_STEPS_AT_ONCE == 2

    def derivation(slow_lines: int) -> str:
        return " \\\\\n".join(f"D &= {TRIPLE_SUM} + {n}" for n in range(slow_lines))

    with Server("--workers", "2", "--time-limit", "2") as s:
        s.wait_ready()
        finished: list[str] = []

        def send(name: str, text: str, source: str):
            transport = httpx.HTTPTransport(local_address=source)
            with httpx.Client(base_url=s.url, timeout=600, transport=transport) as c:
                response = c.post("/api/check-steps", json={"problem": KL, "derivation": text})
                assert response.status_code == 200, response.text
                finished.append(name)

        plan = [("A short", derivation(2), "127.0.0.2"), ("A long", derivation(12), "127.0.0.2"),
                ("A third", derivation(12), "127.0.0.2"), ("B", "D &= d \\\\\n&= d", "127.0.0.1")]
        threads = []
        for name, text, source in plan:
            threads.append(threading.Thread(target=send, args=(name, text, source)))
            threads[-1].start()
            time.sleep(1.0)  # (arrival order: A's three, then B)
        for t in threads:
            t.join(timeout=600)
        assert finished.index("B") < finished.index("A long"), finished


# -- item 8: slow answers cannot hold every worker ---------------------------------------------------
def test_two_clients_sending_slow_answers_leave_a_worker_for_fast_ones():
    with Server("--workers", "2", "--time-limit", SLOW_LIMIT) as s:
        s.wait_ready()
        slow_answers: list = []
        stop = threading.Event()

        def attacker():
            with httpx.Client(base_url=s.url, timeout=300) as c:
                while not stop.is_set():
                    try:
                        c.post("/api/grade", json={"problem": KL, "answer": TRIPLE_SUM})
                    except httpx.TransportError:
                        return
                    slow_answers.append(time.monotonic())

        attackers = [threading.Thread(target=attacker, daemon=True) for _ in range(2)]
        for t in attackers:
            t.start()
        time.sleep(4.0)  # both slow answers are running (one was moved out of the fast lane after 0.5 s)
        verdicts = []
        with httpx.Client(base_url=s.url, timeout=300) as c:
            for answer in ("d", "d/2", "2d", r"\log d", "d^2"):
                verdicts.append(c.post("/api/grade", json={"problem": KL, "answer": answer}).json()["verdict"])
        answered_slow = len(slow_answers)
        stop.set()
        s.stop()
        assert verdicts == ["incorrect"] * 5
        assert answered_slow == 0, "the fast answers waited for a slow answer's worker"


# -- item 9: read deadlines, and requests from other sites -----------------------------------------
def test_clients_that_trickle_headers_or_body_lose_their_connection(server):
    from checkers.serve.app import BODY_SECONDS, HEADER_SECONDS

    port = server.port
    header = socket.create_connection(("127.0.0.1", port), timeout=5)
    header_text = f"POST /api/grade HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Padding: {'a' * 1000}"
    body = socket.create_connection(("127.0.0.1", port), timeout=5)
    body.sendall(f"POST /api/grade HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: 1000\r\n\r\n".encode())
    # A worker killed and forked again while these connections are open (its client left) must not keep them open.
    before = set(descendants(server.process.pid))
    leaving = raw_request(server.url, "/api/grade", json.dumps({"problem": KL, "answer": TRIPLE_SUM + " + 7"}).encode())
    time.sleep(0.3)
    leaving.close()
    wait_until(lambda: set(descendants(server.process.pid)) - before, 30, "no worker was forked again")
    open_ = {"header": header, "body": body}
    closed_after: dict = {}
    started = time.monotonic()
    for i in range(int(HEADER_SECONDS + BODY_SECONDS + 60)):
        for name, sock in list(open_.items()):
            try:
                sock.sendall((header_text[i] if name == "header" else " ").encode())
                sock.setblocking(False)
                try:
                    if sock.recv(4096) == b"":
                        raise ConnectionResetError
                except BlockingIOError:
                    pass
                finally:
                    sock.setblocking(True)
            except OSError:
                closed_after[name] = time.monotonic() - started
                sock.close()
                del open_[name]
        if not open_:
            break
        time.sleep(1.0)
    for sock in open_.values():
        sock.close()
    assert set(closed_after) == {"header", "body"}, f"still open after {time.monotonic() - started:.0f} s: {open_}"


@pytest.mark.parametrize("headers, status, message", [
    ({"Content-Type": "text/plain"}, 415, "Content-Type: application/json"),
    ({"Content-Type": "application/x-www-form-urlencoded"}, 415, "Content-Type: application/json"),
    ({"Content-Type": "application/json", "Origin": "http://evil.example"}, 403, "another site"),
    ({"Content-Type": "application/json", "Origin": "null"}, 403, "another site"),
    ({"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, 403, "another site"),
    ({"Content-Type": "application/json", "Host": "evil.example"}, 403, "not this server's address"),
    ({"Content-Type": "application/json", "Host": "rebound.example:8000"}, 403, "not this server's address"),
])
def test_requests_another_site_could_send_are_refused(client, headers, status, message):
    for route in ("/api/grade", "/api/read"):
        response = client.post(route, content=json.dumps({"problem": KL, "answer": "d"}).encode(), headers=headers)
        assert response.status_code == status and message in response.json()["error"]


def test_cross_site_uploads_are_refused_and_same_origin_requests_pass(server, client):
    body, content_type = multipart({"problem": KL}, "id,answer\na,d\n")
    response = client.post("/api/grade-csv", content=body,
                           headers={"Content-Type": content_type, "Origin": "http://evil.example"})
    assert response.status_code == 403
    response = client.post("/api/grade-csv", content=body, headers={"Content-Type": content_type, "Origin": server.url})
    assert response.status_code == 200 and response.json()["total"] == 1
    response = client.post("/api/grade", json={"problem": KL, "answer": "d"},
                           headers={"Origin": f"http://localhost:{server.port}", "Host": f"localhost:{server.port}"})
    assert response.status_code == 200 and response.json()["verdict"] == "incorrect"


# -- item 10: lone surrogates are bad input ----------------------------------------------------------
@pytest.mark.parametrize("route, field", [("/api/grade", "answer"), ("/api/read", "answer"),
                                          ("/api/check-steps", "derivation"), ("/api/grade", "problem")])
def test_a_lone_surrogate_is_a_400_that_says_so(client, route, field):
    doc = {"problem": KL, "answer": "d", "derivation": r"d \\ d", field: "d + \ud800"}
    response = client.post(route, content=json.dumps(doc).encode(), headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert f'the "{field}" field is not Unicode text' in error and "lone surrogate \\ud800" in error
    assert "character 5" in error
    assert client.post(route, json={"problem": KL, "answer": "d", "derivation": r"d \\ d"}).status_code == 200


def test_a_lone_surrogate_in_a_key_or_nested_value_is_a_400(client):
    for doc in ({"problem": KL, "answer": "d", "\udfff": 1}, {"problem": KL, "answer": "d", "extra": ["\udc80"]}):
        response = client.post("/api/grade", content=json.dumps(doc).encode(),
                               headers={"Content-Type": "application/json"})
        assert response.status_code == 400 and "lone surrogate" in response.json()["error"]
