"""POST /explain: the same inputs as /predict, answered with each input's attribution (corenets.inspect).

Registered through app.EXTENSIONS. The request is read by /predict's own reader (app.read_request: the
multipart reader, the body limit, ServedModel.files / ServedModel.json with the run's limits), so the limits and
the error answers are the same. Images also get an overlay PNG (base64). Explanations run one at a time: Captum's layer
methods hook the network, and two at once on one network would see each other's activations.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from ..errors import CorenetsError
from .model import InputError, ServedModel

_LOCK = threading.Lock()


def routes(app, served: ServedModel) -> None:
    """Add POST /explain to `app` (called by create_app)."""
    from .app import read_request

    @app.post("/explain")
    async def explain(request: Request):
        """Like /predict (image files as multipart `file`; JSON for text, rows and prices): per input its class
        and attribution; images: Grad-CAM (or integrated gradients) as a map and a PNG overlay in base64."""
        return JSONResponse(await read_request(request, served, lambda raw, names: answer(served, raw, names)))


def answer(served: ServedModel, raw: Any, names: list[str] | None = None) -> dict[str, Any]:
    """Raw inputs -> {"task", "classes", "explanations": [...]}, refusing what /predict refuses."""
    try:
        import captum  # noqa: F401
    except ImportError:
        raise InputError("this server cannot explain: Captum is not installed (pip install 'corenets[inspect]')", 501) from None
    from ..inspect.api import explain_json

    try:
        with _LOCK:
            got = explain_json(served.run, raw)
    except InputError:
        raise
    except CorenetsError as e:
        raise InputError(str(e)) from None
    except (RuntimeError, ValueError, TypeError) as e:
        raise InputError(f"the input does not fit this model ({str(e).splitlines()[0][:160]}); {served.hint()}") from None
    if names and len(names) == len(got):
        for g, n in zip(got, names):
            g["input"] = n
    return {"task": served.run.task, "classes": served.run.classes, "explanations": got}
