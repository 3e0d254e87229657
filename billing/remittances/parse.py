"""Reading 999, 277CA and 835 files with pyx12 (no string splitting by hand).

`read(content, expected=…)` decodes an upload, finds its kind from GS08 and ST01 (pyx12's
segment reader), refuses a file of another kind, validates it against its implementation
guide with pyx12 (the findings name segments and elements, never values: no PHI), and then
walks pyx12's map-driven loops into the frozen dataclasses below. Nothing here touches the
database: billing.remittances.services posts what these describe."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError

# The app's one way to run pyx12 quietly (its validator and its logging guard).
from billing.exports.x12 import quiet_pyx12, validate_837
from billing.remittances import codes

X999, X277CA, X835 = "999", "277CA", "835"
ACKNOWLEDGMENTS = frozenset({X999, X277CA})
REMITTANCES = frozenset({X835})
KINDS = ACKNOWLEDGMENTS | REMITTANCES
KIND_LABELS = {
    X999: "999 implementation acknowledgment",
    X277CA: "277CA claim acknowledgment",
    X835: "835 remittance advice (ERA)",
}
# (ST01, GS08) of the guides pyx12 validates: 005010X231A1, X214 and X221A1.
_VERSIONS = {
    ("999", "005010X231A1"): X999,
    ("999", "005010X231"): X999,
    ("277", "005010X214"): X277CA,
    ("835", "005010X221A1"): X835,
}
MAX_BYTES = 10 * 1024 * 1024

EMPTY_MESSAGE = "The file is empty."
TOO_BIG_MESSAGE = "The file is larger than 10 MB; an X12 file of a practice is far smaller."
NOT_TEXT_MESSAGE = "The file is not plain text: X12 files are ASCII text."
NOT_X12_MESSAGE = "This is not an X12 file: it must start with an ISA interchange header."
UNKNOWN_KIND_MESSAGE = (
    "This X12 file is a {found}, not a 999, 277CA (005010X214) or 835 (005010X221A1)."
)
WRONG_KIND_MESSAGE = "This file is a {found}; upload it as {where}."
ONE_SET_MESSAGE = (
    "This file holds {count} transaction sets; upload one {kind} per file (one ST…SE)."
)
INVALID_MESSAGE = (
    "The {kind} failed validation against its implementation guide, so nothing was "
    "imported: {fixes}"
)


def refuse(message: str) -> ValidationError:
    return ValidationError({"file": [message]})


# --- 999 ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ElementError:
    position: str  # IK401-1: the element's position in the segment
    reference: str  # IK402: the data element reference number
    code: str  # IK403


@dataclass(frozen=True)
class SegmentError:
    segment: str  # IK301
    position: str  # IK302: the segment's position in the transaction set
    loop: str  # IK303
    code: str  # IK304
    elements: tuple[ElementError, ...]


@dataclass(frozen=True)
class TransactionAck:
    control_number: str  # AK202: our ST02
    code: str  # IK501
    errors: tuple[str, ...]  # IK502..IK506
    segments: tuple[SegmentError, ...]


@dataclass(frozen=True)
class Ack999:
    group_control_number: int | None  # AK102: our GS06 (the batch's control number)
    code: str  # AK901
    errors: tuple[str, ...]  # AK905..AK909
    transactions: tuple[TransactionAck, ...]

    @property
    def accepted(self) -> bool:
        return self.code in ("A", "E")


# --- 277CA --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusCode:
    category: str  # STC01-1
    status: str  # STC01-2
    entity: str  # STC01-3

    @property
    def meaning(self) -> str:
        return codes.claim_status_meaning(self.category, self.status, self.entity)


@dataclass(frozen=True)
class ClaimStatusInfo:
    """One claim of a 277CA (2200D): its STC segments (one or more) and the payer's claim
    control number (REF*1K) when it took the claim in."""

    patient_control_number: str  # 2200D TRN02: our CLM01
    statuses: tuple[StatusCode, ...]
    payer_claim_number: str

    @property
    def rejected(self) -> bool:
        return any(s.category in codes.REJECTED_CATEGORIES for s in self.statuses)

    @property
    def accepted(self) -> bool:
        return not self.rejected and any(
            s.category in codes.ACCEPTED_CATEGORIES for s in self.statuses
        )

    @property
    def main(self) -> StatusCode:
        """The status that decides: the first rejecting one, else the first."""
        refusing = [s for s in self.statuses if s.category in codes.REJECTED_CATEGORIES]
        return (refusing or list(self.statuses) or [StatusCode("", "", "")])[0]

    @property
    def category(self) -> str:
        return self.main.category

    @property
    def status(self) -> str:
        return self.main.status

    @property
    def entity(self) -> str:
        return self.main.entity

    @property
    def meaning(self) -> str:
        return "; ".join(s.meaning for s in self.statuses)


@dataclass(frozen=True)
class Ack277:
    trace: str  # 2200B TRN02: the submitter's batch trace (our BHT03)
    claims: tuple[ClaimStatusInfo, ...]


# --- 835 ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Adjustment:
    group: str  # CAS01
    reason: str  # CAS02, 05, 08, …
    amount: Decimal  # CAS03, 06, 09, …
    line_code: str  # SVC01-2 for a line adjustment, blank for the claim's


@dataclass(frozen=True)
class ClaimPayment:
    patient_control_number: str  # CLP01
    status: str  # CLP02
    charge: Decimal  # CLP03
    paid: Decimal  # CLP04
    patient_responsibility: Decimal  # CLP05
    payer_claim_number: str  # CLP07
    adjustments: tuple[Adjustment, ...]


@dataclass(frozen=True)
class Remit835:
    payer_name: str  # 1000A N102
    payer_id: str  # 1000A REF*2U, else N104, else TRN03
    trace_number: str  # TRN02
    method: str  # BPR04
    total_paid: Decimal  # BPR02
    paid_on: dt.date | None  # BPR16, else DTM*405
    claims: tuple[ClaimPayment, ...]


Parsed = Ack999 | Ack277 | Remit835


# --- reading --------------------------------------------------------------------------------


def decode(content: bytes | str) -> str:
    """The upload as text (BOM and surrounding whitespace removed), or the refusal."""
    if isinstance(content, bytes):
        if len(content) > MAX_BYTES:
            raise refuse(TOO_BIG_MESSAGE)
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise refuse(NOT_TEXT_MESSAGE) from None
    text = content.strip()
    if not text:
        raise refuse(EMPTY_MESSAGE)
    if "\x00" in text:
        raise refuse(NOT_TEXT_MESSAGE)
    return text


def _segments(text: str) -> Iterator[Any]:
    import pyx12.errors
    import pyx12.x12file

    try:
        reader = pyx12.x12file.X12Reader(io.StringIO(text))
        yield from reader
    except (pyx12.errors.X12Error, pyx12.errors.EngineError, IndexError, ValueError):
        raise refuse(NOT_X12_MESSAGE) from None


def detect(text: str) -> str:
    """The file's kind (999, 277CA, 835) from its first GS08 and ST01; refuses anything
    else, and a file holding more than one transaction set."""
    version = transaction = ""
    sets = 0
    with quiet_pyx12():
        for segment in _segments(text):
            seg_id = segment.get_seg_id()
            if seg_id == "GS" and not version:
                version = segment.get_value("GS08") or ""
            elif seg_id == "ST":
                sets += 1
                transaction = transaction or segment.get_value("ST01") or ""
    kind = _VERSIONS.get((transaction, version))
    if kind is None:
        found = f"{transaction or 'file without a transaction set'} ({version or 'no version'})"
        raise refuse(UNKNOWN_KIND_MESSAGE.format(found=found))
    if sets > 1:
        raise refuse(ONE_SET_MESSAGE.format(count=sets, kind=KIND_LABELS[kind]))
    return kind


def read(content: bytes | str, *, expected: frozenset[str] = KINDS) -> tuple[str, str, Parsed]:
    """(text, kind, parsed) of an uploaded X12 file of one of the `expected` kinds;
    ValidationError on the `file` field otherwise (nothing is parsed by hand)."""
    text = decode(content)
    kind = detect(text)
    if kind not in expected:
        where = "a remittance (835)" if kind in REMITTANCES else "an acknowledgment (999, 277CA)"
        raise refuse(WRONG_KIND_MESSAGE.format(found=KIND_LABELS[kind], where=where))
    findings = validate_837(text)
    if findings:
        raise refuse(INVALID_MESSAGE.format(kind=KIND_LABELS[kind], fixes=_first(findings)))
    with quiet_pyx12():
        if kind == X999:
            return text, kind, _read_999(text)
        if kind == X277CA:
            return text, kind, _read_277ca(text)
        return text, kind, _read_835(text)


def _first(findings: list[str], most: int = 3) -> str:
    """pyx12's findings (segments, elements and codes; values redacted), the first few."""
    more = len(findings) - most
    return "; ".join(findings[:most]) + (f"; and {more} more." if more > 0 else ".")


def _nodes(text: str, loop_id: str) -> Iterator[Any]:
    """pyx12's map-driven walk: each `loop_id` loop as one tree, other segments one by one."""
    import pyx12.error_handler
    import pyx12.params
    import pyx12.x12context

    params = pyx12.params.ParamsBase()  # pyx12's defaults, never a config file
    with pyx12.x12context.X12ContextReader(
        params, pyx12.error_handler.errh_null(), io.StringIO(text)
    ) as reader:
        yield from reader.iter_segments(loop_id)


def _value(node: Any, path: str) -> str:
    return (node.get_value(path) or "").strip()


def _amount(node: Any, path: str) -> Decimal:
    try:
        return Decimal(_value(node, path) or "0")
    except InvalidOperation:  # pyx12 validated the R type: not reached with a valid file
        raise refuse(f"{path} is not an amount.") from None


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None  # CCYYMMDD
    except ValueError:
        return None


def _in_loop(node: Any, loop_id: str) -> bool:
    parent = getattr(node.x12_map_node, "parent", None)
    return parent is not None and parent.id == loop_id


def _read_999(text: str) -> Ack999:
    group: int | None = None
    code, transactions = "", []
    errors: tuple[str, ...] = ()
    for node in _nodes(text, "2000"):
        if node.id == "AK1":
            number = _value(node, "AK102")
            group = int(number) if number.isdigit() else None
        elif node.id == "AK9":
            code = _value(node, "AK901")
            errors = tuple(e for e in (_value(node, f"AK90{n}") for n in range(5, 10)) if e)
        elif node.id == "2000":
            transactions.append(_transaction_ack(node))
    return Ack999(
        group_control_number=group, code=code, errors=errors, transactions=tuple(transactions)
    )


def _transaction_ack(loop: Any) -> TransactionAck:
    segments = tuple(
        SegmentError(
            segment=_value(ik3, "IK301"),
            position=_value(ik3, "IK302"),
            loop=_value(ik3, "IK303"),
            code=_value(ik3, "IK304"),
            elements=tuple(
                ElementError(
                    position=_value(ik4, "IK401-01"),
                    reference=_value(ik4, "IK402"),
                    code=_value(ik4, "IK403"),
                )
                for ik4 in ik3.select("2110")
            ),
        )
        for ik3 in loop.select("2100")
    )
    errors = tuple(e for e in (_value(loop, f"IK50{n}") for n in range(2, 7)) if e)
    return TransactionAck(
        control_number=_value(loop, "AK202"),
        code=_value(loop, "IK501"),
        errors=errors,
        segments=segments,
    )


def _read_277ca(text: str) -> Ack277:
    trace, claims = "", []
    for node in _nodes(text, "2000D"):
        if node.id == "TRN" and _in_loop(node, "2200B"):
            trace = _value(node, "TRN02")
        elif node.id == "2000D":
            for claim in node.select("2200D"):
                statuses = tuple(
                    StatusCode(
                        category=_value(stc, "STC01-1"),
                        status=_value(stc, "STC01-2"),
                        entity=_value(stc, "STC01-3"),
                    )
                    for stc in claim.select("STC")
                )
                claims.append(
                    ClaimStatusInfo(
                        patient_control_number=_value(claim, "TRN02"),
                        statuses=statuses,
                        payer_claim_number=_value(claim, "REF[1K]02"),
                    )
                )
    return Ack277(trace=trace, claims=tuple(claims))


def _cas(node: Any, line_code: str) -> Iterator[Adjustment]:
    """Every adjustment of a CAS segment: up to six (reason, amount) pairs under one group."""
    group = _value(node, "CAS01")
    for reason_at in (2, 5, 8, 11, 14, 17):
        reason = _value(node, f"CAS{reason_at:02d}")
        if reason:
            amount = _amount(node, f"CAS{reason_at + 1:02d}")
            yield Adjustment(group=group, reason=reason, amount=amount, line_code=line_code)


def _claim_payment(loop: Any) -> ClaimPayment:
    adjustments = [a for cas in loop.select("CAS") for a in _cas(cas, "")]
    for line in loop.select("2110"):
        code = _value(line, "SVC01-02")
        adjustments += [a for cas in line.select("CAS") for a in _cas(cas, code)]
    return ClaimPayment(
        patient_control_number=_value(loop, "CLP01"),
        status=_value(loop, "CLP02"),
        charge=_amount(loop, "CLP03"),
        paid=_amount(loop, "CLP04"),
        patient_responsibility=_amount(loop, "CLP05"),
        payer_claim_number=_value(loop, "CLP07"),
        adjustments=tuple(adjustments),
    )


def _read_835(text: str) -> Remit835:
    header: dict[str, Any] = {"payer_name": "", "ids": {}}
    claims = []
    for node in _nodes(text, "2100"):
        if node.id == "2100":
            claims.append(_claim_payment(node))
        elif node.id == "BPR":
            header["total_paid"] = _amount(node, "BPR02")
            header["method"] = _value(node, "BPR04")
            header["paid_on"] = _date(_value(node, "BPR16"))
        elif node.id == "TRN":
            header["trace_number"] = _value(node, "TRN02")
            header["ids"]["TRN03"] = _value(node, "TRN03")
        elif node.id == "DTM" and _value(node, "DTM01") == "405":
            header["produced_on"] = _date(_value(node, "DTM02"))
        elif node.id == "N1" and _in_loop(node, "1000A"):
            header["payer_name"] = _value(node, "N102")
            header["ids"]["N104"] = _value(node, "N104")
        elif node.id == "REF" and _in_loop(node, "1000A") and _value(node, "REF01") == "2U":
            header["ids"]["2U"] = _value(node, "REF02")
    ids = header["ids"]
    return Remit835(
        payer_name=header["payer_name"],
        payer_id=ids.get("2U") or ids.get("N104") or ids.get("TRN03", ""),
        trace_number=header.get("trace_number", ""),
        method=header.get("method", ""),
        total_paid=header.get("total_paid", Decimal("0")),
        paid_on=header.get("paid_on") or header.get("produced_on"),
        claims=tuple(claims),
    )


def transaction_claims(document: str, sets: set[str]) -> set[str]:
    """The patient control numbers (CLM01) of an 837's transaction sets named by their
    control numbers (ST02): the claims a 999's rejection of those sets returns."""
    numbers: set[str] = set()
    current = ""
    with quiet_pyx12():
        for node in _nodes(document, "2300"):
            if node.id == "ST":
                current = _value(node, "ST02")
            elif node.id == "2300" and current in sets:
                numbers.add(_value(node, "CLM01").upper())
    return numbers
