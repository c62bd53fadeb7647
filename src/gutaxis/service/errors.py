"""The service's errors and their one JSON shape.

Service functions raise :class:`ServiceError` subclasses (or gutaxis's own
:class:`~gutaxis.exceptions.InputError`); :func:`install_error_handlers` turns
every one of them — and FastAPI's request validation errors and any
unexpected exception — into::

    {"error": {"status": 404, "code": "not_found", "message": "...", "fields": [...]}}

for the API, or into an error page for the browser.  Another clinic's object
raises :class:`NotFound`, exactly as a missing one does.
"""

from __future__ import annotations

import logging
from typing import Any

from gutaxis.exceptions import GutaxisError, InputError, NotFoundError

__all__ = ["ServiceError", "NotFound", "NotAllowed", "NotSignedIn", "Conflict", "Throttled",
           "Invalid", "Unavailable", "error_body", "as_service_error"]

logger = logging.getLogger(__name__)


class ServiceError(Exception):
    """An error the client is told about: an HTTP status, a code and a message."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, fields: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or []


class NotFound(ServiceError):
    """No such object — or one of another clinic (the same answer, on purpose)."""

    status = 404
    code = "not_found"


class NotAllowed(ServiceError):
    """Signed in, but this role may not do this."""

    status = 403
    code = "forbidden"


class NotSignedIn(ServiceError):
    """No valid session or token."""

    status = 401
    code = "not_signed_in"


class Conflict(ServiceError):
    """The request clashes with what is stored (an e-mail already in use...)."""

    status = 409
    code = "conflict"


class Throttled(ServiceError):
    """Too many attempts (login throttling and lock-out)."""

    status = 429
    code = "too_many_attempts"


class Invalid(ServiceError):
    """A request whose content is not acceptable (a field, a file)."""

    status = 422
    code = "invalid"


class Unavailable(ServiceError):
    """The server cannot do this until its operator repairs something (it is logged)."""

    status = 503
    code = "unavailable"


def as_service_error(exc: BaseException) -> ServiceError:
    """Translate an exception into the :class:`ServiceError` it stands for.

    Returns
    -------
    ServiceError
        ``exc`` itself when it is one; :class:`NotFound` for a
        ``NotFoundError``; :class:`Invalid` for another gutaxis error;
        otherwise a plain :class:`ServiceError` (400) with its message.
    """
    if isinstance(exc, ServiceError):
        return exc
    if isinstance(exc, NotFoundError):
        return NotFound(str(exc))
    if isinstance(exc, InputError | GutaxisError):
        return Invalid(str(exc))
    return ServiceError(str(exc))


def error_body(status: int, code: str, message: str,
               fields: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """Build the one JSON shape of an error.

    Returns
    -------
    dict
        ``{"error": {"status", "code", "message", "fields"}}``; ``fields``
        is a list of ``{"field", "message"}`` (empty when none is given).

    Examples
    --------
    >>> error_body(404, "not_found", "no patient 7")["error"]["code"]
    'not_found'
    """
    return {"error": {"status": status, "code": code, "message": message,
                      "fields": fields or []}}
