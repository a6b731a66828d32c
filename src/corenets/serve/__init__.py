"""Serve a run folder: a FastAPI app (extra `[serve]`) with one offline page, a JSON API and the model card.

    corenets serve runs/<run> [--host 127.0.0.1] [--port 8000]

``create_app`` is imported lazily so that importing this package needs no FastAPI.
"""

from __future__ import annotations


def create_app(run_dir, max_upload_mb: float = 10, top_k: int = 5, **limits):
    """See corenets.serve.app.create_app."""
    from .app import create_app as _create

    return _create(run_dir, max_upload_mb=max_upload_mb, top_k=top_k, **limits)


__all__ = ["create_app"]
