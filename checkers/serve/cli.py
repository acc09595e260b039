"""The `proofcheck serve` subcommand (registered by checkers.cli)."""

from __future__ import annotations

import ipaddress
import sys

from checkers.errors import UsageError
from checkers.limits import DEFAULT_MEMORY_MB, DEFAULT_TIME_LIMIT, check_limits

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _port(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number (got {text!r})") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is between 1 and 65535 (got {value})")
    return value


def cmd_serve(args) -> int:
    check_limits(args.time_limit, args.memory_mb, args.workers)  # before anything heavy is imported
    if args.host not in LOOPBACK:
        try:
            ipaddress.ip_address(args.host)
        except ValueError:
            raise UsageError(f"--host must be an IP address or localhost (got {args.host!r})") from None
        print(f"proofcheck serve: listening on {args.host}, reachable from other machines; there is no "
              f"authentication. Browse it by IP address: a host name in the Host header is refused (that is how a "
              f"DNS-rebinding page would reach it)", file=sys.stderr)
    from checkers.serve import serve

    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"proofcheck serve: http://{shown}:{args.port}/ (Ctrl-C stops it)", flush=True)
    serve(args.host, args.port, args.workers, time_limit=args.time_limit, memory_mb=args.memory_mb)
    print("proofcheck serve: stopped", flush=True)
    return 0


def register(sub) -> None:
    """Add `serve` to the proofcheck command line."""
    p = sub.add_parser("serve", help="a local web page and JSON API that grade answers in milliseconds",
                       description="Serve the grading page at / and the JSON API under /api/ (see README, "
                                   "'Web server'). Binds 127.0.0.1 unless --host says otherwise. SIGINT or SIGTERM "
                                   "stops it and every grading worker.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=None, help="grading processes per problem (default: one per CPU)")
    p.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT,
                   help=f"seconds per answer (default {DEFAULT_TIME_LIMIT:g})")
    p.add_argument("--memory-mb", type=int, default=DEFAULT_MEMORY_MB,
                   help=f"extra memory per worker in MiB (default {DEFAULT_MEMORY_MB})")
    p.set_defaults(func=cmd_serve)
