"""Reading an upload as it arrives: a multipart body streamed into the file store.

Starlette's own form parser spools every file to a temporary file first and
has no size limit for files; the upload routes use :func:`read_upload_form`
instead, which writes the one file part straight into a
:class:`~gutaxis.store.StoreWriter` (hashing as it goes) and stops keeping it
past the limit — the rest of the body is read and dropped, so that the
other fields still arrive and the client gets its answer (a failed job)
instead of a broken connection.  Built on python-multipart's streaming
parser, which Starlette uses too.
"""

from __future__ import annotations

import dataclasses

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from gutaxis.service.errors import Invalid
from gutaxis.service.store import FileStore, StoreWriter, TooLargeError

__all__ = ["UploadForm", "read_upload_form"]

#: Text fields of an upload form, and their largest size.
_MAX_FIELD_BYTES = 64 * 1024
_MAX_FIELDS = 20


@dataclasses.dataclass
class UploadForm:
    """What an upload form held.

    Attributes
    ----------
    fields : dict of str to str
        The text fields (the last value of each name).
    filename : str or None
        The file part's file name, None when no file was sent.
    stored : (str, int) or None
        The file's SHA-256 and size once it is in the store.
    refused : str or None
        Why the file was not kept (too large).
    """

    fields: dict[str, str]
    filename: str | None = None
    stored: tuple[str, int] | None = None
    refused: str | None = None
    file_field: str = ""
    #: Every file part by field name: (file name, stored or None, refused or None).
    files: dict[str, tuple[str, tuple[str, int] | None, str | None]] = dataclasses.field(
        default_factory=dict)


class _Parts:
    def __init__(self, store: FileStore, limit: int, file_fields: tuple[str, ...]) -> None:
        self.store, self.limit, self.file_fields = store, limit, file_fields
        self.form = UploadForm({}, file_field=file_fields[0])
        self.filename = ""
        self.header_field = b""
        self.header_value = b""
        self.headers: dict[bytes, bytes] = {}
        self.name = ""
        self.is_file = False
        self.value = bytearray()
        self.writer: StoreWriter | None = None
        self.error: str | None = None

    def on_part_begin(self) -> None:
        self.headers, self.value, self.is_file, self.name = {}, bytearray(), False, ""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.header_field.lower()] = self.header_value
        self.header_field, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        _disposition, options = parse_options_header(self.headers.get(b"content-disposition"))
        self.name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in options:
            self.is_file = True
            if self.name not in self.file_fields or self.name in self.form.files \
                    or self.writer is not None:
                self.error = (f"the form may hold one file in each of the fields "
                              f"{', '.join(self.file_fields)}; got a file in '{self.name}'")
                return
            self.filename = options[b"filename"].decode("utf-8", "replace")
            self.writer = StoreWriter(self.store, self.limit)
        elif len(self.form.fields) >= _MAX_FIELDS:
            self.error = f"the form has more than {_MAX_FIELDS} fields"

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.error:
            return
        if self.is_file:
            assert self.writer is not None
            self.writer.write(data[start:end])
        else:
            self.value += data[start:end]
            if len(self.value) > _MAX_FIELD_BYTES:
                self.error = f"field '{self.name}': longer than {_MAX_FIELD_BYTES} bytes"

    def on_part_end(self) -> None:
        if self.error:
            return
        if self.is_file:
            assert self.writer is not None
            stored, refused = None, None
            try:
                stored = self.writer.commit()
            except TooLargeError as exc:
                refused = str(exc) + "; nothing was kept"
            self.writer = None
            if not self.filename and stored is not None and stored[1] == 0:
                return  # a file input left empty in a browser form
            self.form.files[self.name] = (self.filename, stored, refused)
            if self.name == self.form.file_field:
                self.form.filename, self.form.stored, self.form.refused = (
                    self.filename, stored, refused)
        else:
            value = self.value.decode("utf-8", "replace")
            if "\x00" in value:  # PostgreSQL's text cannot hold it
                self.error = f"field '{self.name}': the NUL character is not allowed"
                return
            self.form.fields[self.name] = value


async def read_upload_form(request: Request, store: FileStore, limit: int,
                           file_fields: tuple[str, ...] = ("file",)) -> UploadForm:
    """Read a ``multipart/form-data`` body, its file going straight into ``store``.

    Parameters
    ----------
    request : Request
    store : FileStore
    limit : int
        Bytes of the file kept at most; a larger file is refused (``refused``).
    file_fields : tuple of str
        The names of the file parts allowed (one file each); the first is
        the form's main file (``filename``, ``stored``, ``refused``).

    Returns
    -------
    UploadForm

    Raises
    ------
    Invalid
        Not a multipart body, a broken one, a second file, too many or too
        long fields (nothing is kept).
    """
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise Invalid("the upload must be sent as multipart/form-data with a 'file' part")
    parts = _Parts(store, limit, file_fields)
    parser = MultipartParser(boundary, {
        "on_part_begin": parts.on_part_begin, "on_part_data": parts.on_part_data,
        "on_part_end": parts.on_part_end, "on_header_field": parts.on_header_field,
        "on_header_value": parts.on_header_value, "on_header_end": parts.on_header_end,
        "on_headers_finished": parts.on_headers_finished})
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except Exception as exc:
        if parts.writer is not None:
            parts.writer.abort()
        if isinstance(exc, Invalid):
            raise
        raise Invalid(f"the upload is not a well-formed multipart/form-data body ({exc})"
                      ) from None
    if parts.writer is not None:  # the body ended inside the file part
        parts.writer.abort()
        parts.error = parts.error or "the upload ended before the file did"
    if parts.error:
        if parts.form.stored is not None:
            pass  # kept by content address; harmless, and no row names it
        raise Invalid(parts.error)
    return parts.form
