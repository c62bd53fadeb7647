"""Alembic's entry point: run the migrations on the connection it is given.

The connection comes from :func:`gutaxis.service.db.upgrade`, in the
configuration's ``attributes``; run on its own, this refuses.
"""

from __future__ import annotations

from alembic import context

from gutaxis.service.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through gutaxis.service.db.upgrade
    raise RuntimeError("run the migrations with `gutaxis db upgrade` (or "
                       "gutaxis.service.db.upgrade), which gives them a connection")
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
