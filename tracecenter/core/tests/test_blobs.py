"""core.blobs reads and writes only encrypted blob fields: any other column would get the value unsealed."""

from __future__ import annotations

import pytest

from tracecenter.core import crypto
from tracecenter.core.blobs import blob_read, blob_write
from tracecenter.people.models import Person


@pytest.mark.parametrize("field", ["first_name", "notes", "sex"])
def test_a_field_that_is_not_an_encrypted_blob_is_refused(make_person, county, field):
    person = make_person(county)
    before = Person.objects.values_list(field, flat=True).get(pk=person.pk)
    # An assert before, which `python -O` removes: the sealed value would then have gone into the column.
    with pytest.raises(TypeError, match="is not an EncryptedBlobField"):
        blob_write(Person, pk=person.pk, field=field, value=crypto.Sealed(blob=b"sealed bytes", size=5))
    with pytest.raises(TypeError, match="is not an EncryptedBlobField"):
        blob_read(Person, pk=person.pk, field=field)
    assert Person.objects.values_list(field, flat=True).get(pk=person.pk) == before
