"""The service's ASGI app for ``uvicorn serve.app:app`` in a checkout; the code is in the package.

Installed deployments use ``reportlab_nlp.service.app:app`` (or ``reportlab-nlp serve``):
this folder is not part of the installed package.
"""

from __future__ import annotations

from reportlab_nlp.service.app import app, create_app

__all__ = ["app", "create_app"]
