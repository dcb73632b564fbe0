"""Taking an upload in: the multipart body streamed to a file under the data folder,
the format recognised from its first bytes, the picture size read from its header
(never decoded here), and the names shown for it."""

from __future__ import annotations

import os
import re
import secrets
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

import anyio.to_thread
import tifffile
from PIL import Image
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from restore.io.decode import megapixels

EXTENSIONS = {"PNG": ".png", "JPEG": ".jpg", "TIFF": ".tif", "WEBP": ".webp", "BMP": ".bmp"}
MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".tif": "image/tiff",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
}
_SNIFF_BYTES = 12
_MAX_FIELD_BYTES = 64 << 10
_WRITE_BYTES = 1 << 20  # file data is written to disk in pieces of about this size
_FIELDS = ("pipeline", "params", "max_megapixels")
_NAME_CHARACTERS = re.compile(r"[^\w .,()+@=-]", re.UNICODE)


class UploadError(Exception):
    """An upload refused with an HTTP ``status`` and a one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def sniff(head: bytes) -> str | None:
    """The format ("PNG", "JPEG", "TIFF", "WEBP", "BMP") its first bytes say, or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith(b"BM"):
        return "BMP"
    return None


def picture_size(path: Path, fmt: str) -> tuple[int, int]:
    """Width and height from the file's header, without decoding; UploadError 415
    when the header cannot be read."""
    try:
        if fmt == "TIFF":
            with tifffile.TiffFile(path) as tif:
                page = tif.pages.first
                return int(page.imagewidth), int(page.imagelength)
        with Image.open(path, formats=[fmt]) as image:
            return image.size
    except Exception as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        raise UploadError(415, f"not a readable {fmt} file ({reason})") from None


def check_pixels(width: int, height: int, limit: int) -> None:
    """UploadError 413 for a picture of more than ``limit`` pixels, 415 for an empty one."""
    if width <= 0 or height <= 0:
        raise UploadError(415, "the image has zero size")
    if width * height > limit:
        raise UploadError(
            413,
            f"{width} x {height} pixels ({megapixels(width * height)} megapixels) is over "
            f"the limit of {megapixels(limit)} megapixels",
        )


def display_name(name: str | None) -> str:
    """The uploaded file's name as display text: its last part, printable, at most
    120 characters; never used as a path."""
    base = re.split(r"[/\\]", name or "")[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C")
    base = _NAME_CHARACTERS.sub("_", base).strip(" .")
    return base[:120] or "image"


def disposition(name: str) -> str:
    """An attachment's Content-Disposition header for ``name``: an ASCII fallback and
    the RFC 5987 UTF-8 form."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@dataclass
class Upload:
    """A received multipart form: its text fields and its one file, written to ``path``."""

    path: Path
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    format: str | None = None


class _Form:
    """The parser's callbacks: fields into memory, the file part to an open file."""

    def __init__(self, upload: Upload) -> None:
        self.upload = upload
        self.pending = bytearray()  # file data parsed but not yet written
        self._headers: list[tuple[bytes, bytes]] = []
        self._name = b""
        self._value = b""
        self._field: str | None = None
        self._is_file = False
        self._data = bytearray()
        self._files = 0

    def on_part_begin(self) -> None:
        self._headers, self._field, self._is_file, self._data = [], None, False, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self._headers.append((self._name.lower(), self._value))
        self._name, self._value = b"", b""

    def on_headers_finished(self) -> None:
        header = next((v for k, v in self._headers if k == b"content-disposition"), b"")
        _, options = parse_options_header(header)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in options:
            self._files += 1
            if name != "file" or self._files > 1:
                raise UploadError(422, "send exactly one file, in the form field 'file'")
            self._is_file = True
            self.upload.filename = options[b"filename"].decode("utf-8", "replace")
            return
        if name == "file":
            raise UploadError(422, "the form field 'file' must be a file upload")
        if name not in _FIELDS:
            known = ", ".join(("file", *_FIELDS))
            raise UploadError(422, f"unknown form field {name[:40]!r} (known: {known})")
        self._field = name

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._is_file:
            self.pending += chunk  # one buffer: a body sent a byte at a time costs no more
            return
        self._data += chunk
        if len(self._data) > _MAX_FIELD_BYTES:
            raise UploadError(422, f"form field {self._field!r} is too long")

    def on_part_end(self) -> None:
        if self._field is not None:
            self.upload.fields[self._field] = self._data.decode("utf-8", "replace")


async def receive_form(headers: dict[str, str], body: AsyncIterator[bytes], folder: Path) -> Upload:
    """Stream a ``multipart/form-data`` body into an ``Upload``; its file goes to a
    new server-named file in ``folder`` (removed again on any error). The format is
    checked from the file's first bytes as soon as they arrive (UploadError 415)."""
    kind, options = parse_options_header(headers.get("content-type", ""))
    if kind != b"multipart/form-data" or b"boundary" not in options:
        raise UploadError(422, "expected a multipart/form-data body")
    folder.mkdir(parents=True, exist_ok=True)
    upload = Upload(folder / f"{secrets.token_urlsafe(16)}.part")
    form = _Form(upload)
    callbacks = {name: getattr(form, name) for name in dir(_Form) if name.startswith("on_")}
    parser = MultipartParser(options[b"boundary"], callbacks)  # type: ignore[arg-type]
    handle: BinaryIO = await anyio.to_thread.run_sync(upload.path.open, "xb")
    head = b""
    try:
        async for chunk in body:
            try:
                parser.write(chunk)
            except FormParserError:
                raise UploadError(422, "malformed multipart/form-data body") from None
            if upload.format is None and form.pending:
                head = bytes(form.pending[:_SNIFF_BYTES])  # nothing written before this
                if len(head) == _SNIFF_BYTES:
                    upload.format = _known(head)
            if len(form.pending) >= _WRITE_BYTES:
                data, form.pending = form.pending, bytearray()
                await anyio.to_thread.run_sync(handle.write, data)
        parser.finalize()
        if upload.filename is None:
            raise UploadError(422, "no file: send the image in the form field 'file'")
        upload.format = upload.format or _known(head)
        await anyio.to_thread.run_sync(_finish, handle, form.pending)
    except BaseException:
        handle.close()
        upload.path.unlink(missing_ok=True)
        raise
    return upload


def _known(head: bytes) -> str:
    """The format of a file starting with ``head``, or UploadError 415."""
    fmt = sniff(head)
    if fmt is None:
        raise UploadError(415, "not an image this tool reads (PNG, JPEG, TIFF, WebP or BMP)")
    return fmt


def _finish(handle: BinaryIO, data: bytes | bytearray) -> None:
    """Write the last ``data`` and close the file, its bytes on disk."""
    handle.write(data)
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
