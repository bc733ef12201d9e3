"""Reading an uploaded lab file as it arrives: limited by its format, encrypted on the way in.

Django's default handlers keep a file in memory up to FILE_UPLOAD_MAX_MEMORY_SIZE and write a
larger one, in clear, to a temporary file; the view then reads it whole into memory to store
it. For lab files (personal data, up to tens of megabytes) this handler instead:

- tells the format from the first bytes (detect.py) and stops taking the file as soon as it
  passes that format's limit (limits.py): the rest of the request is read and dropped chunk
  by chunk, never kept, and the form says why (`refusal`);
- encrypts every chunk as it arrives (crypto.BlobSealer, under the context of
  IntakeUpload.data) into an anonymous temporary file that no other process can open and
  that disappears when closed: the clear file is never whole in memory, nor on disk.

The view installs it before anything reads the request body (so its CSRF check runs inside
the view, after the handler is in place: see workspace/views/intake.py).
"""

from __future__ import annotations

import dataclasses
import tempfile
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile

from tracecenter.core import crypto
from tracecenter.intake import detect
from tracecenter.intake.limits import max_file_bytes
from tracecenter.intake.models import IntakeUpload

# Enough of the start of a file to tell its format (detect.py reads at most 64 KB).
HEAD_BYTES = 64 * 1024


@dataclasses.dataclass(frozen=True)
class Refusal:
    """Why an upload was not taken: larger than the limit of its format (None: not told yet)."""

    format: str | None
    limit: int


class SealedUpload(UploadedFile):
    """An uploaded file as the handler kept it: `file` holds its ciphertext (the layout of crypto.seal_bytes)."""

    def __init__(self, file: Any, *, name: str, size: int, fmt: str | None, content_type: str | None) -> None:
        super().__init__(file=file, name=name, content_type=content_type, size=size)
        self.format = fmt

    def sealed(self) -> crypto.Sealed:
        """The ciphertext, read back from the temporary file: what IntakeUpload.data stores as it is."""
        if self.file is None:  # the handler always hands over its temporary file
            raise RuntimeError("a sealed upload without its file")
        self.file.seek(0)
        return crypto.Sealed(blob=self.file.read(), size=self.size or 0)


class SealingUploadHandler(FileUploadHandler):
    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.refusal: Refusal | None = None
        self._reset()

    def _reset(self) -> None:
        self._head = bytearray()
        self._size = 0
        self._format: str | None = None
        self._limit = settings.INTAKE_MAX_FILE_BYTES  # until the format is known
        self._out: Any = None
        self._sealer: crypto.BlobSealer | None = None

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self._reset()  # a file completed before keeps its temporary file (the request closes it)
        if self.field_name != "file" or self.refusal is not None:
            raise SkipFile  # the form has one file field; nothing else is kept
        if self.content_length is not None and self.content_length > self._limit:
            self.refusal = Refusal(None, self._limit)
            raise SkipFile

    def _start(self) -> None:
        """The first bytes are in: the format, its limit, and the encryption from here on."""
        head = bytes(self._head)
        self._format = detect.detect_format(head, self.file_name or "")
        self._limit = max_file_bytes(self._format)
        self._out = tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR)  # noqa: SIM115 (kept open until the form is done)
        self._sealer = crypto.BlobSealer(self._out, context=IntakeUpload._meta.get_field("data").crypto_context)  # type: ignore[attr-defined]
        self._sealer.update(head)
        self._head = bytearray()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self._size += len(raw_data)
        if self._sealer is None:
            self._head += raw_data
            if len(self._head) >= HEAD_BYTES:
                self._start()
        else:
            self._sealer.update(raw_data)
        if self._size > self._limit:
            self.refusal = Refusal(self._format, self._limit)
            self._discard()
            raise SkipFile
        return None  # taken: no other handler sees it

    def file_complete(self, file_size: int) -> SealedUpload | None:
        if self.refusal is not None or self.field_name != "file":
            return None
        if self._sealer is None:
            self._start()
            if self._size > self._limit:
                self.refusal = Refusal(self._format, self._limit)
                self._discard()
                return None
        if self._sealer is None:  # started just above
            raise RuntimeError("the upload was never started")
        self._sealer.finish()
        return SealedUpload(
            self._out, name=self.file_name or "", size=file_size, fmt=self._format, content_type=self.content_type
        )

    def upload_interrupted(self) -> None:
        self._discard()

    def _discard(self) -> None:
        if self._out is not None:
            self._out.close()
        self._out = None
        self._sealer = None
