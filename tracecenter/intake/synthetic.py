"""Synthetic HL7 v2.5.1 ORU^R01 lab reports, shaped like the ELR that public-health labs send.

Used by the tests, the demo and bench/intake.py. Pure Python; every value is escaped
with the standard encoding characters, so any name can be written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

RESULTS = {
    "positive": ("260373001", "Detected"),
    "negative": ("260415000", "Not detected"),
    "inconclusive": ("419984006", "Inconclusive"),
}
TESTS = {
    "94500-6": "SARS-CoV-2 (COVID-19) RNA [Presence] in Respiratory system specimen by NAA with probe detection",
    "94558-4": "SARS-CoV-2 (COVID-19) Ag [Presence] in Respiratory specimen by Rapid immunoassay",
    "85477-8": "Influenza virus A RNA [Presence] in Upper respiratory specimen by NAA with probe detection",
    "85478-6": "Influenza virus B RNA [Presence] in Upper respiratory specimen by NAA with probe detection",
    "85479-4": "Respiratory syncytial virus RNA [Presence] in Upper respiratory specimen by NAA with probe detection",
}


def escape(value: str) -> str:
    """HL7 escaping for the standard encoding characters |^~\\&."""
    return value.replace("\\", "\\E\\").replace("|", "\\F\\").replace("^", "\\S\\").replace("&", "\\T\\").replace("~", "\\R\\")


@dataclasses.dataclass
class Analyte:
    loinc: str = "94500-6"
    result: str = "positive"  # a key of RESULTS, or a raw "code^text^system"
    status: str = "F"  # OBX-11


@dataclasses.dataclass
class SyntheticReport:
    control_id: str
    first_name: str
    last_name: str
    date_of_birth: dt.date | None
    collected: dt.date
    accession: str
    analytes: list[Analyte] = dataclasses.field(default_factory=lambda: [Analyte()])
    middle_name: str = ""
    sex: str = "F"
    street: str = "12 Main St"
    city: str = "Springfield"
    state: str = "MA"
    postal_code: str = "01103"
    county: str = ""
    phone: str = ""  # digits, e.g. "4135550100"
    email: str = ""
    patient_id: str = ""
    lab_name: str = "Example Reference Lab"
    lab_clia: str = "22D0999999"


def _xtn(phone: str, email: str) -> str:
    parts = []
    if phone:
        parts.append(f"({phone[:3]}) {phone[3:6]}-{phone[6:10]}^PRN^PH^^1^{phone[:3]}^{phone[3:10]}")
    if email:
        parts.append(f"^NET^Internet^{escape(email)}")
    return "~".join(parts)


def oru_r01(report: SyntheticReport) -> str:
    """One ORU^R01 message, segments ended by CR."""
    collected = report.collected.strftime("%Y%m%d") + "0930-0500"
    resulted = (report.collected + dt.timedelta(days=1)).strftime("%Y%m%d") + "1400-0500"
    dob = report.date_of_birth.strftime("%Y%m%d") if report.date_of_birth else ""
    lab = f"{escape(report.lab_name)}^{report.lab_clia}^CLIA"
    accession = f"{escape(report.accession)}^{escape(report.lab_name)}^{report.lab_clia}^CLIA"
    name = f"{escape(report.last_name)}^{escape(report.first_name)}^{escape(report.middle_name)}^^^^L"
    address = (
        f"{escape(report.street)}^^{escape(report.city)}^{escape(report.state)}^{escape(report.postal_code)}"
        f"^USA^^^{escape(report.county)}"
    )
    segments = [
        f"MSH|^~\\&|LabSystem^2.16.840.1.114222.4.1.99999^ISO|{lab}|ELR^2.16.840.1.114222.4.3.99^ISO|DOH^2.16.840.1.114222.99^ISO|"
        f"{resulted}||ORU^R01^ORU_R01|{escape(report.control_id)}|P|2.5.1|||NE|NE|USA|UNICODE UTF-8",
        f"PID|1||{escape(report.patient_id or report.accession)}^^^{escape(report.lab_name)}&{report.lab_clia}&CLIA^PI||"
        f"{name}||{dob}|{report.sex}||2106-3^White^HL70005|{address}||{_xtn(report.phone, report.email)}",
        f"ORC|RE|{accession}|{accession}|||||||||1234567893^Welby^Marcus^^^^^^NPI&2.16.840.1.113883.4.6&ISO^L^^^NPI"
        f"|||||||||Springfield Clinic^L^^^^CLIA&2.16.840.1.113883.4.7&ISO^XX^^^22D0888888",
        f"OBR|1|{accession}|{accession}|94531-1^SARS-CoV-2 RNA panel^LN|||{collected}|||||||||"
        f"1234567893^Welby^Marcus^^^^^^NPI&2.16.840.1.113883.4.6&ISO^L^^^NPI||||||{resulted}|||F",
    ]
    for index, analyte in enumerate(report.analytes, start=1):
        code, text = RESULTS.get(analyte.result, (None, None))
        value = f"{code}^{text}^SCT" if code else analyte.result
        segments.append(
            f"OBX|{index}|CWE|{analyte.loinc}^{escape(TESTS.get(analyte.loinc, 'Test'))}^LN||{value}|||||"
            f"|{analyte.status}|||{collected}|{report.lab_clia}^{escape(report.lab_name)}^CLIA||||{resulted}"
            f"||||{escape(report.lab_name)}^L^^^^CLIA&2.16.840.1.113883.4.7&ISO^XX^^^{report.lab_clia}"
        )
    segments.append(
        f"OBX|{len(report.analytes) + 1}|CWE|95419-8^Has symptoms related to condition of interest^LN||N^No^HL70136"
        f"||||||F|||{collected}|||||||||||||||QST"
    )
    segments.append(f"SPM|1|{accession}||258500001^Nasopharyngeal swab^SCT|||||||||||||{collected}|{resulted}")
    return "\r".join(segments) + "\r"
