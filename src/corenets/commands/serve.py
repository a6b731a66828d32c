"""`corenets serve RUN`: the run as a web page and a JSON API (FastAPI + uvicorn, extra `[serve]`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..cli import subcommand, with_arguments
from ..errors import ConfigError


def _arguments(p):
    p.add_argument("run", help="a run folder made by `corenets run`")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument("--max-upload-mb", type=float, default=10, help="largest request body accepted (default 10 MB)")
    p.add_argument("--max-pixels", type=int, default=40_000_000,
                   help="largest image accepted, in pixels, read from its header before decoding (default 40M)")
    p.add_argument("--max-request-pixels", type=int, default=40_000_000,
                   help="most pixels of all the images of one request together, from their headers before decoding; "
                        "also the pixels decoded at once across requests (default 40M)")
    p.add_argument("--max-texts", type=int, default=1_000, help="most sentences per request (default 1000)")
    p.add_argument("--max-text-chars", type=int, default=10_000, help="most characters per sentence (default 10000)")
    p.add_argument("--max-rows", type=int, default=10_000, help="most table or number rows per request (default 10000)")
    p.add_argument("--max-prices", type=int, default=100_000,
                   help="most prices per forecast request, or lines of its CSV (default 100000)")
    p.add_argument("--max-columns", type=int, default=1_000,
                   help="most columns of an uploaded CSV; a table's training columns are always allowed (default 1000)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads per server process (default 1: batching and the web work already use "
                        "the cores; 0: torch default)")
    p.add_argument("--workers", type=int, default=1,
                   help="server processes, each with its own copy of the model (default 1; on a machine that only "
                        "serves, about one per core answers more requests per second)")


@subcommand("serve", "serve a run as a web page (upload, type or paste an input) and a JSON API")
@with_arguments(_arguments)
def cmd_serve(args) -> int:
    try:
        import uvicorn
    except ImportError:
        raise ConfigError("serving needs the [serve] extra: pip install 'corenets[serve]'") from None
    if args.workers < 1:
        raise ConfigError(f"--workers must be 1 or more, got {args.workers}")
    if args.threads < 0:
        raise ConfigError(f"--threads must be 0 (torch's default) or more, got {args.threads}")
    if not 1 <= args.port <= 65535:
        raise ConfigError(f"--port must be from 1 to 65535, got {args.port}")
    if not 0 < args.max_upload_mb <= 1_000_000:  # also refuses nan and inf
        raise ConfigError(f"--max-upload-mb must be above 0 and at most 1000000, got {args.max_upload_mb}")
    from ..serve.app import ENV, serving_app
    from ..serve.model import LIMITS, limits_from

    limits = {name: getattr(args, name) for name in LIMITS}
    limits_from(**limits)  # each limit 1 or more, refused here in one line
    settings = {"run_dir": str(Path(args.run).resolve()), "threads": args.threads,
                "max_upload_mb": args.max_upload_mb, **limits}
    app = serving_app(**settings)  # with several workers too: a bad run folder fails here, in one clear line
    _check_address(args.host, args.port)
    card = app.state.served.card
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: binding {args.host} exposes the model to the network; there is no authentication")
    print(f"serving {card['run']} ({card['model']} on {card['dataset']}, {card['input']} input) "
          f"at http://{args.host}:{args.port}/ with {args.workers} worker(s)  (API docs at /docs; Ctrl+C stops)",
          flush=True)
    if args.workers == 1:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
        return 0
    del app  # each worker process loads its own copy; uvicorn can only start several from an import string
    os.environ[ENV] = json.dumps(settings)
    # uvicorn's supervisor kills a worker that misses a 5 s health ping, and with it the requests it holds; a
    # worker loading torch and the model on a busy small machine can miss it, so allow 30 s
    uvicorn.run("corenets.serve.app:app_from_environment", factory=True, workers=args.workers,
                host=args.host, port=args.port, log_level="warning", timeout_worker_healthcheck=30)
    return 0


def _check_address(host: str, port: int) -> None:
    """Refuse, in one line, an address this machine cannot listen on (unknown host, port in use, no permission),
    before uvicorn would log it and exit 3. (A port taken between this check and uvicorn's bind is still uvicorn's.)"""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: a port in TIME_WAIT is free
            s.bind(address)
    except (OSError, UnicodeError) as e:
        raise ConfigError(f"cannot listen on {host}:{port} ({getattr(e, 'strerror', None) or e}); "
                          "choose another --port or --host") from None
