"""Every field's description and label point at something on the page (a screen reader reads nothing otherwise)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tracecenter.accounts.roles import Role


def _dangling(page: str) -> list[str]:
    page = re.sub(r"<template>.*?</template>", "", page, flags=re.S)
    ids = set(re.findall(r'\sid="([^"]+)"', page))
    described = [i for attr in re.findall(r'aria-describedby="([^"]*)"', page) for i in attr.split()]
    labelled = re.findall(r'<label for="([^"]*)"', page)
    return [i for i in described + labelled if i not in ids]


def test_the_upload_fields_help_text_is_on_the_page_and_described_by(client, users):
    client.force_login(users[Role.SUPERVISOR])
    page = client.get(reverse("workspace:intake_upload")).content.decode()
    assert 'aria-describedby="id_file_helptext"' in page
    assert re.search(r'<p class="help" id="id_file_helptext">HL7 v2 \(\.hl7, \.txt\), CSV', page)
    assert _dangling(page) == []


def test_the_upload_fields_help_text_is_in_spanish_for_a_spanish_reader(client, users):
    client.force_login(users[Role.SUPERVISOR])
    client.cookies["django_language"] = "es"
    page = client.get(reverse("workspace:intake_upload")).content.decode()
    assert re.search(r'<p class="help" id="id_file_helptext">[^<]*ReportStream o SimpleReport', page)


@pytest.mark.parametrize(
    ("role", "url"),
    [
        (Role.ADMINISTRATOR, "workspace:admin_jurisdictions"),
        (Role.SUPERVISOR, "workspace:match_reviews"),
        (Role.CONTACT_TRACER, "workspace:my_work"),
    ],
)
def test_no_other_page_describes_or_labels_what_is_not_there(client, users, role, url):
    client.force_login(users[role])
    assert _dangling(client.get(reverse(url)).content.decode()) == []
