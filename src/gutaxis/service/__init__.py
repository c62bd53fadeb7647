"""The practice application: patients' records, visits, uploads, profiles, timeline and plan.

``create_app(settings)`` builds the FastAPI application (nothing is created
at import); ``gutaxis serve`` runs it under uvicorn.  Layout: settings, db,
models (+ Alembic ``migrations/``), security, audit, store, access,
services (what pages and API share), jobs + sandbox + tasks (heavy work in a
limited process), api, pages, demo.

Examples
--------
>>> import tempfile
>>> from gutaxis.service import Settings, create_app
>>> app = create_app(Settings(data_dir=tempfile.mkdtemp(), run_worker=False))
>>> app.openapi()["paths"]["/api/v1/patients"]["post"]["responses"]["201"]["description"]
'Successful Response'
"""

from gutaxis.service.app import create_app
from gutaxis.service.settings import Settings

__all__ = ["create_app", "Settings"]
