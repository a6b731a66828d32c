"""`corenets serve RUN`: the run as a web page and a JSON API (FastAPI + uvicorn, extra `[serve]`)."""

from __future__ import annotations

from ..cli import subcommand, with_arguments
from ..errors import ConfigError


def _arguments(p):
    p.add_argument("run", help="a run folder made by `corenets run`")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument("--max-upload-mb", type=float, default=10, help="largest request body accepted (default 10 MB)")
    p.add_argument("--max-pixels", type=int, default=40_000_000, help="largest image accepted, in pixels (default 40M)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads in the server (default 1: concurrent requests already use the cores; 0: torch default)")


@subcommand("serve", "serve a run as a web page (upload, type or paste an input) and a JSON API")
@with_arguments(_arguments)
def cmd_serve(args) -> int:
    try:
        import uvicorn
    except ImportError:
        raise ConfigError("serving needs the [serve] extra: pip install 'corenets[serve]'") from None
    import torch

    from ..serve import create_app

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    app = create_app(args.run, max_upload_mb=args.max_upload_mb, max_pixels=args.max_pixels)
    card = app.state.served.card
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: binding {args.host} exposes the model to the network; there is no authentication")
    print(f"serving {card['run']} ({card['model']} on {card['dataset']}, {card['input']} input) "
          f"at http://{args.host}:{args.port}/  (API docs at /docs; Ctrl+C stops)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
