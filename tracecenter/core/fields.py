"""Model fields whose values are encrypted in the database (see core.crypto)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import models

from tracecenter.core import crypto


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """Text stored as AES-GCM ciphertext bound to its model and field.

    Encrypted values cannot be searched or compared in SQL: a lookup goes through a
    blind index column kept beside the field.
    """

    def contribute_to_class(self, cls: type[models.Model], name: str, private_only: bool = False) -> None:
        super().contribute_to_class(cls, name, private_only)
        self.crypto_context = f"{cls._meta.label_lower}.{name}"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return self.to_python(value)
        return self.to_python(crypto.decrypt(value, context=self.crypto_context))

    def get_prep_value(self, value: Any) -> Any:
        value = self._to_text(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(str(value), context=self.crypto_context)

    def _to_text(self, value: Any) -> Any:
        return value


class EncryptedDateField(EncryptedTextField):
    """A date (such as a date of birth) stored encrypted, read back as a `date`."""

    # What type checkers (django-stubs) see on model instances.
    _pyi_private_set_type: dt.date | str | None  # type: ignore[assignment]
    _pyi_private_get_type: dt.date | None  # type: ignore[assignment]

    def to_python(self, value: Any) -> Any:
        if value is None or value == "" or isinstance(value, dt.date):
            return value or None
        return dt.date.fromisoformat(str(value))

    def _to_text(self, value: Any) -> Any:
        if isinstance(value, dt.date):
            return value.isoformat()
        return value

    def formfield(self, **kwargs: Any) -> Any:
        from django import forms

        return forms.DateField(**{"required": not self.blank, **kwargs})


class EncryptedBlobField(models.BinaryField):
    """Bytes (an uploaded file) under envelope encryption: see crypto.seal_bytes. Never searched or compared."""

    _pyi_private_set_type: bytes | crypto.Sealed | None  # type: ignore[assignment]
    _pyi_private_get_type: bytes | None  # type: ignore[assignment]

    def contribute_to_class(self, cls: type[models.Model], name: str, private_only: bool = False) -> None:
        super().contribute_to_class(cls, name, private_only)
        self.crypto_context = f"{cls._meta.label_lower}.{name}"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> bytes | None:
        if value is None:
            return None
        return crypto.open_bytes(value if isinstance(value, bytes) else bytes(value), context=self.crypto_context)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is None:
            return None
        if isinstance(value, crypto.Sealed):
            # Sealed as it arrived (an upload, see crypto.BlobSealer), under this field's context.
            return super().get_db_prep_value(value.blob, connection, prepared)
        return super().get_db_prep_value(crypto.seal_bytes(bytes(value), context=self.crypto_context), connection, prepared)
