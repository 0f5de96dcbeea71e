"""`python -m messaging.sandbox --host 127.0.0.1 --port 8025 --api-key KEY [--api-key KEY2]`."""

import argparse
import contextlib
import logging
import os
import signal
import sys

from werkzeug.serving import run_simple

from .app import SandboxApp
from .state import DEFAULT_SEED

DEFAULT_KEY = "sandbox-key"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m messaging.sandbox", description="MessageWhiz API v3 simulator (in-memory, HTTP)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument(
        "--api-key",
        action="append",
        default=[],
        dest="api_keys",
        help="an API key to accept (repeatable; also SANDBOX_API_KEYS, comma-separated)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the sandbox's RNG")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    keys = [key for key in args.api_keys if key]
    keys += [key.strip() for key in os.environ.get("SANDBOX_API_KEYS", "").split(",") if key.strip()]
    if not keys:
        keys = [DEFAULT_KEY]
        print(f"No API key given: accepting '{DEFAULT_KEY}'", flush=True)
    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = SandboxApp(keys, seed=args.seed)
    print(f"MessageWhiz sandbox listening on http://{args.host}:{args.port}", flush=True)
    # Process managers stop us with SIGTERM, people with Ctrl-C: both end quietly with status 0.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt):
        run_simple(args.host, args.port, app, threaded=True, use_reloader=False, use_debugger=False)


if __name__ == "__main__":
    sys.exit(main())
