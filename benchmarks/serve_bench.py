r"""Benchmark of `proofcheck serve`: latency and throughput of the JSON API, measured with a real HTTP client.

A real server process (`proofcheck serve --port P`, default workers: one per core) is started and timed
until it answers (/api/health), until it returns its first kl-gaussian grade (workers warm) and until
every problem's statement is loaded (/api/health ready).
Then, with httpx over keep-alive connections to 127.0.0.1:
* 1,000 sequential POST /api/grade on distinct kl-gaussian answers (benchmarks/grade_bench.py's
  generator, seed printed: correct spellings and known mistakes, each with its truth label, so the
  verdicts are checked too): p50, p99, max;
* 300 sequential POST /api/read (the parse preview: MathML printed from the parsed object) on the
  same answers: p50, p99;
* the same 1,000 answers from 8 concurrent clients: answers/s;
* 4 clients grading while a fifth sends hostile answers (a 200 KB answer, 10^{1000} exponents, a
  1,300-character determinant of matrix powers): the others' latency, against the time limit;
* a fast client grading while two clients send, again and again, the slowest answer known (a triple sum of
  10^12 terms that runs until the time limit stops it; as many slow clients as this machine has workers on
  a 2-core machine): the fast client's p50, p99;
* clients that leave: the time from a client closing its connection to the server having stopped its work
  (the worker grading its slow answer killed; a 500-row upload's job process and its workers gone);
* SIGTERM: the server exits and leaves no grading worker behind.
Bars (issue 12): grade p50 <= 20 ms, p99 <= 100 ms; >= 150 answers/s with 8 clients; read p50 <= 5 ms.
The machine may be shared with other work: the figures are only as quiet as the machine was.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests"))

from grade_bench import generate  # noqa: E402  (the labelled kl-gaussian answers)
from serve_process import Server, alive, descendants  # noqa: E402  (the launcher the serve tests use)

PROBLEM = "kl-gaussian"
SLOWEST = r"\sum_{i=1}^{10^{4}}\sum_{j=1}^{10^{4}}\sum_{k=1}^{10^{4}} i"  # runs until the time limit stops it
BARS = {"grade p50": 0.020, "grade p99": 0.100, "read p50": 0.005}
MIN_RATE = 150.0
HOSTILE = [
    "x" * 200_000,
    r"d^{10^{1000}}",
    r"10^{10^{1000}10^{1000}}",
    r"d^{" + r"10^{1000}" * 6 + "}",
    r"\det(" + "+".join(rf"\Sigma_{i % 2}^{{-{i}}}\Sigma_{1 - i % 2}^{{{i}}}" for i in range(1, 50)) + ")",
]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (from /proc; 0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[-1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def quantiles(times: list[float]) -> dict:
    ordered = sorted(times)
    return {"p50": statistics.median(ordered), "p99": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
            "max": ordered[-1], "n": len(ordered)}


def ms(x: float) -> str:
    return f"{x * 1000:.1f} ms"


def slow_clients(base: str, texts: list[str], count: int = 200) -> None:
    """A fast client's latency while two clients send the slowest answer over and over."""
    import httpx

    stop = threading.Event()
    slow: list = []

    def attacker():
        with httpx.Client(base_url=base, timeout=120) as c:
            while not stop.is_set():
                t0 = time.perf_counter()
                c.post("/api/grade", json={"problem": PROBLEM, "answer": SLOWEST})
                slow.append(time.perf_counter() - t0)

    attackers = [threading.Thread(target=attacker) for _ in range(2)]
    for th in attackers:
        th.start()
    time.sleep(3.0)  # both slow answers running
    times = []
    with httpx.Client(base_url=base, timeout=120) as c:
        for text in texts[:count]:
            t = time.perf_counter()
            c.post("/api/grade", json={"problem": PROBLEM, "answer": text})
            times.append(time.perf_counter() - t)
    stop.set()
    for th in attackers:
        th.join()
    fast = quantiles(times)
    print(f"a fast client while two clients send {SLOWEST} again and again: p50 {ms(fast['p50'])}, p99 "
          f"{ms(fast['p99'])}, max {ms(fast['max'])} over {fast['n']} answers; the slow clients got {len(slow)} "
          f"answers, p50 {statistics.median(slow):.2f} s each")


def _send(port: int, path: str, body: bytes, content_type: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return sock


def _stopped_after(close_at: float, stopped, limit: float = 60.0) -> float | None:
    """Seconds from `close_at` until `stopped()` is true (None: not within `limit`)."""
    while time.perf_counter() - close_at < limit:
        if stopped():
            return time.perf_counter() - close_at
        time.sleep(0.002)
    return None


def clients_that_leave(launched: Server) -> None:
    """Time from a client closing its connection to the server having stopped its work."""
    pid, port = launched.process.pid, launched.port
    before = set(descendants(pid))
    sock = _send(port, "/api/grade", json.dumps({"problem": PROBLEM, "answer": SLOWEST}).encode(), "application/json")
    time.sleep(0.8)  # (under the 2 s time limit: the worker is still grading it)
    closed = time.perf_counter()
    sock.close()
    answer = _stopped_after(closed, lambda: any(not alive(p) for p in before), limit=10.0)  # its worker killed
    deadline = time.perf_counter() + 30
    while len([p for p in descendants(pid) if alive(p)]) < len(before) and time.perf_counter() < deadline:
        time.sleep(0.01)  # the killed worker is replaced before the next measurement
    rows = "id,answer\n" + "".join(f'{i},"{SLOWEST}"\n' for i in range(500))
    boundary = "benchboundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="problem"\r\n\r\n{PROBLEM}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n{rows}\r\n'
            f"--{boundary}--\r\n").encode()
    before = set(descendants(pid))
    sock = _send(port, "/api/grade-csv", body, f"multipart/form-data; boundary={boundary}")
    deadline = time.perf_counter() + 60
    while not set(descendants(pid)) - before and time.perf_counter() < deadline:
        time.sleep(0.01)
    time.sleep(2.0)
    job = {p for p in descendants(pid) if alive(p)} - before
    closed = time.perf_counter()
    sock.close()
    upload = _stopped_after(closed, lambda: not any(alive(p) for p in job))
    shown = lambda t: "not within the limit" if t is None else ms(t)  # noqa: E731
    print(f"a client that leaves: its slow answer's worker killed {shown(answer)} after the client closed the "
          f"connection; a 500-row upload of slow answers stopped ({len(job)} processes: the job and its workers) "
          f"{shown(upload)} after (unstopped it would grade for about {500 * 2 / (os.cpu_count() or 1):.0f} s)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="sequential grade requests (default 1000)")
    parser.add_argument("--reads", type=int, default=300, help="sequential read requests (default 300)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the answer generator (default 0)")
    args = parser.parse_args(argv)
    import httpx

    answers = generate(args.count, seed=args.seed)
    print(f"serve benchmark: {len(answers)} distinct {PROBLEM} answers (generator seed {args.seed}), "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    started = time.perf_counter()
    launched = Server()
    server, base = launched.process, launched.url
    listening = ready = first_grade = None
    failures = []
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            while time.perf_counter() - started < 120:
                if server.poll() is not None:
                    print(launched.output())
                    raise SystemExit("the server exited during start-up")
                try:
                    doc = client.get("/api/health").json()
                except httpx.TransportError:
                    time.sleep(0.05)
                    continue
                if listening is None:
                    listening = time.perf_counter() - started
                    client.post("/api/grade", json={"problem": PROBLEM, "answer": answers[0][0]}, timeout=120)
                    first_grade = time.perf_counter() - started
                    continue
                if doc["ready"]:
                    ready = time.perf_counter() - started
                    break
                time.sleep(0.05)
            if ready is None:
                raise SystemExit("the server was not warm within 120 s")
            print(f"start-up: answers /api/health after {listening:.2f} s, the first {PROBLEM} grade after "
                  f"{first_grade:.2f} s (its workers warm), every problem listed (catalog) after {ready:.2f} s")
            for text, _, _ in answers[:20]:  # first touches of the code paths
                client.post("/api/grade", json={"problem": PROBLEM, "answer": text})
                client.post("/api/read", json={"problem": PROBLEM, "answer": text})

            times, wrong = [], 0
            for text, truth, _ in answers:
                t = time.perf_counter()
                doc = client.post("/api/grade", json={"problem": PROBLEM, "answer": text}).json()
                times.append(time.perf_counter() - t)
                wrong += (doc["verdict"] == "correct") != truth
            grade = quantiles(times)
            print(f"POST /api/grade, {grade['n']} sequential: p50 {ms(grade['p50'])}, p99 {ms(grade['p99'])}, "
                  f"max {ms(grade['max'])}; {wrong} verdicts differ from the truth labels")

            times = []
            for text, _, _ in answers[: args.reads]:
                t = time.perf_counter()
                doc = client.post("/api/read", json={"problem": PROBLEM, "answer": text}).json()
                times.append(time.perf_counter() - t)
            read = quantiles(times)
            print(f"POST /api/read, {read['n']} sequential: p50 {ms(read['p50'])}, p99 {ms(read['p99'])}, "
                  f"max {ms(read['max'])}")

        def worker(items, out):
            with httpx.Client(base_url=base, timeout=30) as c:
                for text in items:
                    t = time.perf_counter()
                    doc = c.post("/api/grade", json={"problem": PROBLEM, "answer": text}).json()
                    out.append((time.perf_counter() - t, doc.get("verdict")))

        texts = [a for a, _, _ in answers]
        shares = [texts[i::args.clients] for i in range(args.clients)]
        results: list = []
        threads = [threading.Thread(target=worker, args=(s, results)) for s in shares]
        pool = descendants(server.pid)
        cpu_before = (cpu_seconds(server.pid), sum(cpu_seconds(p) for p in pool), time.process_time())
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.perf_counter() - t
        cpu_after = (cpu_seconds(server.pid), sum(cpu_seconds(p) for p in pool), time.process_time())
        rate = len(results) / wall
        conc = quantiles([r[0] for r in results])
        per = [(b - a) / len(results) for a, b in zip(cpu_before, cpu_after)]
        print(f"POST /api/grade, {args.clients} concurrent clients: {len(results)} answers in {wall:.2f} s = "
              f"{rate:.0f} answers/s (latency p50 {ms(conc['p50'])}, p99 {ms(conc['p99'])}); CPU per answer: "
              f"server process {ms(per[0])}, its {len(pool)} workers {ms(per[1])}, this client {ms(per[2])}")

        normal: list = []
        hostile: list = []
        stop = threading.Event()

        def attacker():
            with httpx.Client(base_url=base, timeout=60) as c:
                while not stop.is_set():
                    for text in HOSTILE:
                        t0 = time.perf_counter()
                        doc = c.post("/api/grade", json={"problem": PROBLEM, "answer": text}).json()
                        hostile.append((time.perf_counter() - t0, doc.get("verdict"), doc.get("message", "")[:70]))

        bad = threading.Thread(target=attacker)
        bad.start()
        threads = [threading.Thread(target=worker, args=(texts[i:400:4], normal)) for i in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        stop.set()
        bad.join()
        under = quantiles([r[0] for r in normal])
        print(f"with hostile answers from a fifth client: the others' p50 {ms(under['p50'])}, p99 "
              f"{ms(under['p99'])}, max {ms(under['max'])} (time limit 2 s per answer); "
              f"{len(hostile)} hostile answers, slowest {max(h[0] for h in hostile):.2f} s, verdicts "
              f"{sorted({h[1] for h in hostile})}")
        slow_clients(base, texts)
        clients_that_leave(launched)
        for name, value in (("grade p50", grade["p50"]), ("grade p99", grade["p99"]), ("read p50", read["p50"])):
            if value > BARS[name]:
                failures.append(f"{name} {ms(value)} > {ms(BARS[name])}")
        if rate < MIN_RATE:
            failures.append(f"{rate:.0f} answers/s < {MIN_RATE:.0f}")
    finally:
        workers = descendants(server.pid)
        server.send_signal(signal.SIGTERM)
        t = time.perf_counter()
        try:
            code = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            code = server.wait()
        stopped = time.perf_counter() - t
        time.sleep(1.0)
        left = [p for p in workers if alive(p)]
        print(f"SIGTERM: the server exited in {stopped:.2f} s (code {code}); {len(workers)} grading processes "
              f"before, {len(left)} alive after")
        if left:
            failures.append(f"{len(left)} workers outlived the server")
        launched.close()
    print("bars: " + ("all met" if not failures else "NOT met: " + "; ".join(failures)) +
          f" (load average {os.getloadavg()[0]:.1f} at the end; a shared machine makes these figures noisy)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
