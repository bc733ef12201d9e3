"""The Spanish catalogue: complete, placeholder-safe, compiled, and what a Spanish-speaking user sees."""

from __future__ import annotations

import gettext as gnu_gettext
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from tracecenter.accounts.roles import Role

CATALOGUE_DIR = Path(settings.LOCALE_PATHS[0]) / "es" / "LC_MESSAGES"
PO_FILE = CATALOGUE_DIR / "django.po"
MO_FILE = CATALOGUE_DIR / "django.mo"

# %(name)s, %(n)d, positional %s / %d, and str.format-style {name}; "%%" is a literal percent sign.
PLACEHOLDER = re.compile(r"%(?:\(\w+\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrs]|\{\w*\}")
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


@dataclass
class Entry:
    line: int
    flags: set[str] = field(default_factory=set)
    msgctxt: str | None = None
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)  # plural index -> text; singular entries use 0


def _unquote(token: str) -> str:
    assert token.startswith('"') and token.endswith('"'), token
    return re.sub(r"\\(.)", lambda m: ESCAPES[m.group(1)], token[1:-1])


def parse_po(path: Path) -> list[Entry]:
    """A small .po reader: enough for the files makemessages writes (entries separated by blank lines)."""
    entries: list[Entry] = []
    entry: Entry | None = None
    target: tuple[str, int] = ("msgid", 0)

    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            entry = None
            continue
        if line.startswith("#~"):
            raise AssertionError(f"line {lineno}: obsolete entry left in the catalogue")
        if entry is None:
            entry = Entry(line=lineno)
            entries.append(entry)
        if line.startswith("#,"):
            entry.flags.update(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith("#"):
            continue
        if not line.startswith('"'):
            keyword, _, line = line.partition(" ")
            plural = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
            if plural:
                target = ("msgstr", int(plural.group(1)))
            elif keyword in {"msgctxt", "msgid", "msgid_plural", "msgstr"}:
                target = (keyword, 0)
            else:
                raise AssertionError(f"line {lineno}: unexpected {keyword!r}")
        name, index = target
        text = _unquote(line)
        if name == "msgstr":
            entry.msgstr[index] = entry.msgstr.get(index, "") + text
        else:
            setattr(entry, name, (getattr(entry, name) or "") + text)
    return entries


def _header(entries: list[Entry]) -> dict[str, str]:
    header = next(e for e in entries if e.msgid == "" and e.msgctxt is None)
    return dict(line.split(": ", 1) for line in header.msgstr[0].splitlines() if ": " in line)


def _messages(entries: list[Entry]) -> list[Entry]:
    return [e for e in entries if e.msgid]


def _placeholders(text: str) -> Counter[str]:
    return Counter(PLACEHOLDER.findall(text.replace("%%", "")))


@pytest.fixture(scope="module")
def entries() -> list[Entry]:
    assert PO_FILE.exists(), "run makemessages -l es"
    return parse_po(PO_FILE)


def test_the_header_describes_a_spanish_utf8_catalogue(entries):
    header = _header(entries)
    assert header["Language"] == "es"
    assert header["Project-Id-Version"] == "TraceCenter"
    assert "charset=UTF-8" in header["Content-Type"]
    assert header["Plural-Forms"] == "nplurals=2; plural=(n != 1);"
    assert "fuzzy" not in next(e for e in entries if e.msgid == "").flags


def test_every_message_is_translated_and_none_is_fuzzy(entries):
    messages = _messages(entries)
    assert len(messages) > 300  # the whole application, not an empty catalogue
    fuzzy = [e.msgid for e in messages if "fuzzy" in e.flags]
    assert fuzzy == [], "remove the fuzzy flag once the translation is checked"
    untranslated = [e.msgid for e in messages if not all(e.msgstr.get(i) for i in range(2 if e.msgid_plural else 1))]
    assert untranslated == []


def test_every_translation_keeps_the_placeholders_of_its_source(entries):
    mismatched = []
    for e in _messages(entries):
        for index, text in e.msgstr.items():
            source = e.msgid_plural if (e.msgid_plural and index > 0) else e.msgid
            if _placeholders(text) != _placeholders(source):
                mismatched.append((e.line, source, text))
    assert mismatched == []


def test_the_placeholder_pattern_sees_what_django_writes():
    assert _placeholders("Page %(n)s of %(total)s") == Counter({"%(n)s": 1, "%(total)s": 1})
    assert _placeholders("at most %(n)d bytes, 100%% sure") == Counter({"%(n)d": 1})
    assert _placeholders("Página %(n)s de %(total)s") != _placeholders("Página %(n)s de %(tota)s")


def _compiled_plural(compiled: gnu_gettext.GNUTranslations, e: Entry, n: int) -> str:
    assert e.msgid_plural is not None
    if e.msgctxt:
        return compiled.npgettext(e.msgctxt, e.msgid, e.msgid_plural, n)
    return compiled.ngettext(e.msgid, e.msgid_plural, n)


def test_the_compiled_catalogue_matches_the_po_file(entries):
    """The committed .mo is what a machine without gettext serves: it must hold every current translation."""
    assert MO_FILE.exists(), "run compilemessages -l es"
    with MO_FILE.open("rb") as fp:
        compiled = gnu_gettext.GNUTranslations(fp)
    stale = []
    for e in _messages(entries):
        if e.msgid_plural:
            got = [_compiled_plural(compiled, e, n) for n in (1, 2)]
            expected = [e.msgstr[0], e.msgstr[1]]
        else:
            got = [compiled.pgettext(e.msgctxt, e.msgid) if e.msgctxt else compiled.gettext(e.msgid)]
            expected = [e.msgstr[0]]
        if got != expected:
            stale.append(e.msgid)
    assert stale == [], "the .mo is older than the .po: run compilemessages -l es"


@pytest.mark.parametrize(
    ("english", "spanish"),
    [
        ("My work", "Mi trabajo"),
        ("Sign in", "Iniciar sesión"),
        ("Sign out", "Cerrar sesión"),
        ("Contact tracer", "Rastreador de contactos"),
        ("Case investigator", "Investigador de casos"),
        ("Infectious period", "Período infeccioso"),
        ("Symptom onset", "Inicio de síntomas"),
        ("In isolation", "En aislamiento"),
    ],
)
def test_django_serves_the_spanish_translations(english, spanish):
    with translation.override("es"):
        assert translation.gettext(english) == spanish
    with translation.override("en"):
        assert translation.gettext(english) == english


def test_lazy_strings_and_placeholders_render_in_spanish():
    with translation.override("es"):
        assert str(Role.CONTACT_TRACER.label) == "Rastreador de contactos"
        assert translation.gettext("Page %(n)s of %(total)s") % {"n": 2, "total": 5} == "Página 2 de 5"


def test_a_signed_in_user_who_chooses_spanish_gets_my_work_in_spanish(client, users):
    client.force_login(users[Role.CONTACT_TRACER])

    response = client.post("/i18n/setlang/", {"language": "es", "next": "/"})
    assert response.status_code == 302
    assert response.url == "/"

    page = client.get("/")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<html lang="es">' in html
    assert "<h1>Mi trabajo</h1>" in html
    assert "Mis casos" in html
    assert "Rastreador de contactos" in html  # the role in the header
    assert "Cerrar sesión" in html
    assert "<h1>My work</h1>" not in html

    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    html = client.get("/").content.decode()
    assert '<html lang="en">' in html
    assert "<h1>My work</h1>" in html


def test_the_sign_in_page_follows_the_browser_language(client, db):
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="es")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<html lang="es">' in html
    assert "<h1>Iniciar sesión</h1>" in html
    assert "Nombre de usuario" in html
    assert "Contraseña" in html

    english = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<h1>Sign in</h1>" in english
