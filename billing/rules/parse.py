"""JSON case input (spec "Case format") to engine dataclasses, and results back to JSON.

Every problem raises InputError naming the field, e.g. `input.time_entries[2].performer`,
so the command line can report it without a traceback (api-contract §5).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfoNotFoundError

from billing.rules.codes import CAP_LIMITS
from billing.rules.engine import month_frame
from billing.rules.types import (
    CENT,
    DATE_OF_SERVICE_MODES,
    MDM_LEVELS,
    PERFORMERS,
    PROGRAMS,
    CarePlan,
    Consent,
    FeeSchedule,
    InitiatingVisit,
    Mdm,
    Month,
    OtherService,
    Patient,
    PatientMonth,
    Performer,
    Policy,
    Program,
    Result,
    TimeEntry,
)

DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
MISSING = object()


class InputError(ValueError):
    """Malformed case input; `field` is the dotted path of the offending value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


T = TypeVar("T")


def _get(obj: dict[str, Any], key: str, path: str, default: object = MISSING) -> Any:
    if key in obj:
        return obj[key]
    if default is MISSING:
        raise InputError(f"{path}.{key}", "missing")
    return default


def _field(
    obj: dict[str, Any],
    key: str,
    path: str,
    parse: Callable[[Any, str], T],
    default: object = MISSING,
) -> T:
    """The object's `key` read by `parse`, which names it `path.key` in its errors."""
    return parse(_get(obj, key, path, default), f"{path}.{key}")


def _record(
    cls: Callable[..., T],
    value: Any,
    path: str,
    fields: Mapping[str, Callable[[Any, str], object]],
    defaults: Mapping[str, object] | None = None,
) -> T:
    """A flat object read into `cls`: each field by its parser, in order (the first error
    wins), a field in `defaults` optional."""
    obj, defaults = _object(value, path), defaults or {}
    return cls(
        **{
            name: _field(obj, name, path, parse, defaults.get(name, MISSING))
            for name, parse in fields.items()
        }
    )


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(path, "must be an object")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise InputError(path, "must be a list")
    return value


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(path, "must be a non-empty string")
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(path, "must be true or false")
    return value


def _date(value: Any, path: str) -> date | None:
    if value is None:
        return None
    if not isinstance(value, str) or not DATE_RE.fullmatch(value):
        raise InputError(path, f"must be a date YYYY-MM-DD or null, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(path, f"not a calendar date: {value!r}") from None


def _instant(value: Any, path: str) -> datetime:
    if not isinstance(value, str):
        raise InputError(path, "must be an ISO 8601 instant such as 2026-03-04T15:00:00Z")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(path, f"not an ISO 8601 instant: {value!r}") from None
    if parsed.tzinfo is None:
        raise InputError(path, f"needs a UTC offset or Z: {value!r}")
    return parsed.astimezone(UTC)


def _minutes(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(path, f"must be a whole number of minutes, got {value!r}")
    if value < 0:
        raise InputError(path, f"must not be negative, got {value}")
    return value


def _month(value: Any, path: str) -> Month:
    try:
        return Month.parse(_text(value, path))
    except ValueError:
        raise InputError(path, f"must be YYYY-MM with month 01-12, got {value!r}") from None


def _timezone(value: Any, path: str, month: Month) -> str:
    name = _text(value, path)
    try:
        month_frame(month, name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InputError(path, f"unknown IANA time zone {name!r}") from None
    return name


def _consent(value: Any, path: str) -> Consent:
    return _record(Consent, value, path, {"given_on": _date, "revoked_on": _date})


def _care_plan(value: Any, path: str) -> CarePlan:
    fields = {
        "established_on": _date,
        "substantially_revised_on": _date,
        "shared_with_patient": _bool,
    }
    return _record(CarePlan, value, path, fields, defaults={"shared_with_patient": True})


def _conditions(value: Any, path: str) -> tuple[str, ...]:
    return tuple(_text(code, f"{path}[{i}]") for i, code in enumerate(_list(value, path)))


def _mdm(value: Any, path: str) -> Mdm | None:
    if value is None:
        return None
    if value not in MDM_LEVELS:
        raise InputError(path, f"must be null, low, moderate or high, got {value!r}")
    return cast(Mdm, value)


def _pcm_condition(value: Any, path: str) -> str | None:
    # R43: absent or null = no principal condition recorded (a PCM month is then blocked).
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InputError(
            path, f"must be an ICD-10-CM code as a non-empty string or null, got {value!r}"
        )
    return value


def _program(value: Any, path: str) -> Program:
    if value not in PROGRAMS:
        raise InputError(path, f"must be one of ccm, pcm or apcm (R38), got {value!r}")
    return cast(Program, value)


def _patient(value: Any, path: str) -> Patient:
    obj = _object(value, path)
    code = _get(obj, "initiating_visit_code", path, None)
    return Patient(
        chronic_conditions=_field(obj, "chronic_conditions", path, _conditions),
        consent=_field(obj, "consent", path, _consent),
        initiating_visit=InitiatingVisit(
            on=_field(obj, "initiating_visit_on", path, _date),
            code=None if code is None else _text(code, f"{path}.initiating_visit_code"),
        ),
        care_plan=_field(obj, "care_plan", path, _care_plan),
        mdm=_field(obj, "mdm", path, _mdm),
        qmb=_field(obj, "qmb", path, _bool, False),  # R41, optional
        pcm_condition=_field(obj, "pcm_condition", path, _pcm_condition, None),  # R43
    )


def _performer(value: Any, path: str) -> Performer:
    if value not in PERFORMERS:
        raise InputError(path, f"unknown performer {value!r} (clinical_staff or physician)")
    return cast(Performer, value)


def _time_entry(value: Any, path: str) -> TimeEntry:
    fields = {
        "started_at": _instant,
        "minutes": _minutes,
        "performer": _performer,
        "practitioner": _text,
        "face_to_face": _bool,
        "in_billed_visit": _bool,
    }
    return _record(TimeEntry, value, path, fields, defaults={"in_billed_visit": True})


def _other_service(value: Any, path: str) -> OtherService:
    return _record(OtherService, value, path, {"code": _text, "practitioner": _text})


def _fee(value: Any, path: str) -> Decimal:
    # Amounts arrive as Decimal (json parse_float=Decimal); whole numbers arrive as int.
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise InputError(path, f"must be a number of dollars, got {value!r}")
    amount = Decimal(value)
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(CENT):
        raise InputError(path, f"must be >= 0 in whole cents, got {value}")
    return amount


def _fee_schedule(value: Any, path: str) -> FeeSchedule:
    obj = _object(value, path)
    return FeeSchedule({code: _fee(amount, f"{path}.{code}") for code, amount in obj.items()})


def _policy_value(field: dataclasses.Field[Any], value: Any, path: str) -> Any:
    default = field.default
    if isinstance(default, bool):
        return _bool(value, path)
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InputError(path, "must be a whole number >= 0")
        limit = CAP_LIMITS.get(field.name)
        if limit is not None and value > limit:  # R22, R24, R44: the spec's most units
            raise InputError(path, f"must be a whole number from 0 to {limit}")
        return value
    if isinstance(default, frozenset):
        return frozenset(_conditions(value, path))
    if field.name == "date_of_service_mode" and value not in DATE_OF_SERVICE_MODES:
        raise InputError(path, f"must be one of {sorted(DATE_OF_SERVICE_MODES)}")
    return _text(value, path)


def parse_policy(value: Any, path: str = "input.policy") -> Policy:
    """An optional POLICY override object; unknown keys are errors, absent keys keep defaults."""
    obj = _object(value, path)
    fields = {field.name: field for field in dataclasses.fields(Policy)}
    changes: dict[str, Any] = {}
    for key, item in obj.items():
        if key not in fields:
            raise InputError(f"{path}.{key}", "unknown POLICY setting")
        changes[key] = _policy_value(fields[key], item, f"{path}.{key}")
    try:
        return Policy(**changes)
    except ValueError as exc:  # e.g. a place of service outside the CMS code set (R33)
        raise InputError(path, str(exc)) from None


def parse_input(value: Any, path: str = "input") -> tuple[PatientMonth, Policy]:
    """A case's `input` object as engine facts plus the POLICY settings to use."""
    obj = _object(value, path)
    month = _field(obj, "month", path, _month)
    facts = PatientMonth(
        month=month,
        timezone=_timezone(_get(obj, "timezone", path), f"{path}.timezone", month),
        billing_practitioner=_field(obj, "billing_practitioner", path, _text),
        patient=_field(obj, "patient", path, _patient),
        time_entries=tuple(
            _time_entry(entry, f"{path}.time_entries[{i}]")
            for i, entry in enumerate(_field(obj, "time_entries", path, _list))
        ),
        other_services=tuple(
            _other_service(item, f"{path}.other_services[{i}]")
            for i, item in enumerate(_field(obj, "other_services", path, _list))
        ),
        ccm_billed_elsewhere=_field(obj, "ccm_billed_elsewhere", path, _bool),
        fee_schedule=_field(obj, "fee_schedule", path, _fee_schedule, {}),
        program=_field(obj, "program", path, _program, "ccm"),  # R38, optional
        apcm_attested=_field(obj, "apcm_attested", path, _bool, False),  # R39, optional
    )
    policy = parse_policy(obj["policy"], f"{path}.policy") if "policy" in obj else Policy()
    return facts, policy


def result_to_json(case_id: str, result: Result) -> dict[str, Any]:
    """The contract's output object (api-contract §5) plus the claim fields and pool minutes."""
    next_threshold = result.next_threshold
    return {
        "id": case_id,
        "billable": result.billable,
        "lines": [
            {
                "code": line.code,
                "units": line.units,
                "minutes": line.minutes,
                "amount": str(line.amount),
                "explanation": line.explanation,
            }
            for line in result.lines
        ],
        "blocked_by": list(result.blocked_by),
        "reasons": list(result.reasons),
        "next_threshold": None
        if next_threshold is None
        else {"code": next_threshold.code, "minutes_needed": next_threshold.minutes_needed},
        "date_of_service": None
        if result.date_of_service is None
        else result.date_of_service.isoformat(),
        "place_of_service": result.place_of_service,
        "diagnosis_pointers": list(result.diagnosis_pointers),
        "total": str(result.total.quantize(CENT)),
        "minutes": {
            "clinical_staff": result.minutes.clinical_staff,
            "physician": result.minutes.physician,
            "staff_pool": result.minutes.staff_pool,
            "physician_pool": result.minutes.physician_pool,
        },
    }
