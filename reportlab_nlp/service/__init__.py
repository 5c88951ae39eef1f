"""The HTTP service (``reportlab-nlp serve``): FastAPI over an :mod:`~reportlab_nlp.engines` engine.

Thin: routes validate requests (:mod:`.schemas`), hand reports to the engine
and write its results; the NLP lives in the package. Install with
``pip install "reportlab-nlp[serve]"``; the ASGI app is
``reportlab_nlp.service.app:app`` (also ``serve.app:app`` in a checkout) and
:func:`reportlab_nlp.service.app.create_app` builds one from settings
(:mod:`.settings`, ``REPORTLAB_*`` environment variables).

Importing this package imports nothing of the ``serve`` extra, so that the
command line can say which dependency is missing.
"""
