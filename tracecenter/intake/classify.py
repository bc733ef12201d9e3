"""Which condition a test is for, and whether its result is positive: pure tables, no Django.

Every feed format calls the same two functions, so "Detected" means the same thing in HL7,
CSV and FHIR. Anything not in these tables is *unknown* and goes to review: an unknown
code is never counted as positive or negative.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import re
import types
from collections.abc import Iterator, Mapping

from tracecenter.intake.records import Classification

# ASCII digits only (\d alone also takes full-width and other scripts' digits), the whole string.
_LOINC = re.compile(r"\d{1,7}-\d", re.ASCII)


def loinc_is_valid(code: str) -> bool:
    """LOINC codes carry a mod-10 check digit after the dash."""
    if not _LOINC.fullmatch(code):
        return False
    body, check = code.split("-")
    digits = [int(ch) for ch in body]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 0:
            doubled = digit * 2
            total += doubled // 10 + doubled % 10
        else:
            total += digit
    return (10 - total % 10) % 10 == int(check)


# --- Tests: LOINC -> (condition, kind). kind is molecular, antigen or antibody.
# Sources: LOINC's SARS-CoV-2 and influenza/RSV code lists (public), the CDC LIVD test code mapping.
_COVID_MOLECULAR = """
94306-8 94307-6 94308-4 94309-2 94310-0 94311-8 94312-6 94314-2 94315-9 94316-7 94500-6 94502-2 94509-7
94510-5 94511-3 94533-7 94534-5 94559-2 94565-9 94639-2 94640-0 94641-8 94642-6 94643-4 94644-2 94645-9
94646-7 94660-8 94745-7 94746-5 94756-4 94757-2 94759-8 94760-6 94766-3 94767-1 94819-0 94822-4 94845-5
95406-5 95409-9 95423-0 95424-8 95425-5 95608-6 95609-4 95823-1 95824-9 95826-4 96091-4 96120-1 96121-9
96122-7 96123-5 96448-6 96751-3 96752-1 96763-8 96765-3 96766-1 96797-6 96829-7 96894-1 96895-8 96896-6
96897-4 96898-2 96899-0 96900-6 96957-6 96958-4 96986-5 98131-6 98132-4 98494-8 98733-9 98846-9 98847-7
99314-7 99596-9 99597-7 100157-7
"""
_COVID_ANTIGEN = "94558-4 94763-0 95209-3 96119-3 97097-0 97099-6 98069-8 98080-5"
_COVID_ANTIBODY = """
94505-5 94506-3 94507-1 94508-9 94547-7 94561-8 94562-6 94563-4 94564-2 94661-6 94762-2 94768-9 94769-7
94720-0 95125-1 95410-7 95411-5 95416-4 95542-7 96118-5 96742-2 96603-6 98068-0 98732-1 99771-8 99772-6
"""
_FLU_MOLECULAR = "34487-9 76077-7 76078-5 76080-1 80588-7 85477-8 85478-6 88596-2 92141-1 92142-9 92976-0 92977-8 95422-2"
_FLU_ANTIGEN = "46082-4 46083-2 80382-5 80383-3 86315-9 86316-7 86317-5 88904-8"
_RSV_MOLECULAR = "40988-8 85479-4 85480-2 88595-4 92131-2 95971-8"
_RSV_ANTIGEN = "30075-6 33045-6 40989-6 72885-7 86318-3"

TEST_CONDITIONS: dict[str, tuple[str, str]] = {}
for _codes, _condition, _kind in (
    (_COVID_MOLECULAR, "covid-19", "molecular"),
    (_COVID_ANTIGEN, "covid-19", "antigen"),
    (_COVID_ANTIBODY, "covid-19", "antibody"),
    (_FLU_MOLECULAR, "influenza", "molecular"),
    (_FLU_ANTIGEN, "influenza", "antigen"),
    (_RSV_MOLECULAR, "rsv", "molecular"),
    (_RSV_ANTIGEN, "rsv", "antigen"),
):
    for _code in _codes.split():
        TEST_CONDITIONS[_code] = (_condition, _kind)

# Ask-at-order-entry questions and report comments sent as OBX: answers about the patient,
# not test results. They never become results.
AOE_QUESTIONS = frozenset(
    {
        "95417-2",
        "95418-0",
        "95419-8",
        "95420-6",
        "95421-4",
        "82810-3",
        "65222-2",
        "11368-8",
        "30525-0",
        "35659-2",
        "77974-4",
        "76691-5",
        "75325-1",
        "77202-0",
        "21612-7",
        "11369-6",
        "72166-2",
        "8339-4",
        "65850-4",
        "92130-4",
    }
)
SYMPTOM_ONSET = frozenset({"65222-2", "11368-8"})

# Only antibodies never open a case: serology is supporting evidence, not a diagnosis (CSTE).
CASE_OPENING_KINDS = frozenset({"molecular", "antigen"})


@dataclasses.dataclass(frozen=True)
class Interpretation:
    classification: Classification
    warning: str = ""  # non-empty: why a person should look at this result
    code: str = ""  # stable code of the warning


# --- Result values coded in SNOMED CT.
_SNOMED: dict[str, Interpretation] = {
    "260373001": Interpretation("positive"),  # Detected
    "10828004": Interpretation("positive"),  # Positive
    "720735008": Interpretation("positive"),  # Presumptive positive
    "11214006": Interpretation("positive"),  # Reactive
    "840533007": Interpretation("positive"),  # SARS-CoV-2 (organism) identified
    "407479009": Interpretation("positive"),  # Influenza A virus (organism) identified
    "407480007": Interpretation("positive"),  # Influenza B virus (organism) identified
    "6415009": Interpretation("positive"),  # Human respiratory syncytial virus (organism) identified
    "260415000": Interpretation("negative"),  # Not detected
    "260385009": Interpretation("negative"),  # Negative
    "131194007": Interpretation("negative"),  # Non-reactive
    "419984006": Interpretation("inconclusive"),  # Inconclusive
    "82334004": Interpretation("inconclusive"),  # Indeterminate
    "42425007": Interpretation("inconclusive"),  # Equivocal
    "455371000124106": Interpretation("inconclusive"),  # Invalid result
    "125154007": Interpretation("inconclusive"),  # Specimen unsatisfactory for evaluation
    # A pooled specimen tested positive: someone in the pool is, not necessarily this person.
    "462371000124108": Interpretation(
        "inconclusive", "Detected in a pooled specimen: an individual test is needed before this is a case.", "pooled"
    ),
    "415684004": Interpretation(
        "unknown", "SNOMED 415684004 'Suspected' is not a test result; review with the lab.", "not_a_result"
    ),
    "840539006": Interpretation(
        "unknown", "SNOMED 840539006 is the disease COVID-19, not a test result value; review with the lab.", "not_a_result"
    ),
    "840544004": Interpretation(
        "unknown", "SNOMED 840544004 'Suspected COVID-19' is not a test result value; review with the lab.", "not_a_result"
    ),
    "840534001": Interpretation(
        "unknown", "SNOMED 840534001 is a vaccination, not a test result value; review with the lab.", "not_a_result"
    ),
    "840546002": Interpretation(
        "unknown", "SNOMED 840546002 is an exposure, not a test result value; review with the lab.", "not_a_result"
    ),
    "261665006": Interpretation("unknown", "The lab reported the result as Unknown (SNOMED 261665006).", "unknown_reported"),
}

# --- Result values sent as text (OBX-2 ST, CSV columns, valueString), compared case- and space-insensitively.
_TEXT: dict[str, Classification] = {}
_TEXT_POSITIVE = {"positive", "pos", "detected", "reactive", "presumptive positive", "presumptive pos", "presumptivepositive"}
_TEXT_NEGATIVE = {
    "negative",
    "neg",
    "not detected",
    "notdetected",
    "nondetected",
    "non detected",
    "undetected",
    "none detected",
    "non reactive",
    "nonreactive",
}
_TEXT_INCONCLUSIVE = {
    "inconclusive",
    "indeterminate",
    "equivocal",
    "invalid",
    "invalid result",
    "undetermined",
    "unsatisfactory",
    "specimen unsatisfactory",
    "specimen unsatisfactory for evaluation",
}
for _set, _cls in ((_TEXT_POSITIVE, "positive"), (_TEXT_NEGATIVE, "negative"), (_TEXT_INCONCLUSIVE, "inconclusive")):
    for _phrase in _set:
        _TEXT[_phrase] = _cls  # type: ignore[assignment]

_SNOMED_SYSTEMS = frozenset({"SCT", "SNM", "SNOMEDCT", "SNOMED", "HTTP://SNOMED.INFO/SCT", "2.16.840.1.113883.6.96"})


def _text_key(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.casefold()).split())


def interpret_text(text: str) -> Interpretation:
    key = _text_key(text)
    if not key:
        return Interpretation("unknown", "The result is empty.", "empty_result")
    cls = _TEXT.get(key)
    if cls is None:
        return Interpretation("unknown", f"The result {text.strip()[:60]!r} is not a result TraceCenter knows.", "unknown_text")
    return Interpretation(cls)


def interpret_coded(code: str, system: str = "", text: str = "") -> Interpretation:
    """A coded result value. An unknown SNOMED code is flagged, even when its text looks clear:
    a wrong code next to a reassuring label is exactly what review is for."""
    code = code.strip()
    system_key = system.strip().upper()
    if code and (system_key in _SNOMED_SYSTEMS or (not system_key and code.isdigit())):
        known = _SNOMED.get(code)
        if known is not None:
            return known
        return Interpretation(
            "unknown",
            f"The result code {code[:30]} ({system.strip()[:20] or 'SNOMED'}) is not a known result value.",
            "unknown_code",
        )
    if code and system_key in {"HL70078", "0078"}:  # abnormal flags sent as the value
        return {"A": Interpretation("positive"), "N": Interpretation("negative")}.get(
            code.upper(), Interpretation("unknown", f"The result flag {code[:10]} is not a known result.", "unknown_code")
        )
    # No recognised code system: fall back to the words (local codes like "POS" or "Detected").
    return interpret_text(text or code)


# Tests the jurisdictions configured (intake.models.ConditionTest), for the parsers of this intake run: a result of
# such a test is kept, with its condition; whether it opens a case is decided per jurisdiction (cases.selectors).
_NONE_CONFIGURED: Mapping[str, tuple[str, str]] = types.MappingProxyType({})
_CONFIGURED: contextvars.ContextVar[Mapping[str, tuple[str, str]]] = contextvars.ContextVar(
    "configured_tests", default=_NONE_CONFIGURED
)


@contextlib.contextmanager
def configured_tests(tests: Mapping[str, tuple[str, str]]) -> Iterator[None]:
    """Within the block, `test_condition` also knows `tests` (LOINC code -> (condition, kind))."""
    token = _CONFIGURED.set(tests)
    try:
        yield
    finally:
        _CONFIGURED.reset(token)


def test_condition(loinc: str) -> tuple[str, str]:
    """(condition, kind) for a LOINC test code, or ("", "") when it is not a test TraceCenter traces."""
    code = loinc.strip()
    return TEST_CONDITIONS.get(code) or _CONFIGURED.get().get(code, ("", ""))


def case_condition(
    *,
    loinc: str,
    reported_condition: str,
    classification: str,
    kinds: Mapping[str, frozenset[str]],
    local_tests: Mapping[str, tuple[str, str]],
) -> str | None:
    """The condition a positive result opens a case for, or None.

    The test is what the jurisdiction configured for this LOINC code (`local_tests`: code -> (condition, kind)),
    else TraceCenter's own catalogue of tests; it opens a case when its condition is traced there through that kind
    of test (`kinds`: condition -> kinds; by default molecular and antigen, CASE_OPENING_KINDS).
    """
    if classification != "positive":
        return None
    condition, kind = local_tests.get(loinc.strip()) or TEST_CONDITIONS.get(loinc.strip(), (reported_condition, ""))
    return condition if condition and kind in kinds.get(condition, frozenset()) else None
