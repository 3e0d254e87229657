"""Months are YYYY-MM from 2000-01 to 2100-12 (ccm/months.py), everywhere they are read."""

import datetime as dt
import re

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from ccm.months import (
    FIRST_MONTH,
    LAST_MONTH,
    MONTH_FORMAT_MESSAGE,
    MONTH_PATTERN,
    MONTH_RANGE_MESSAGE,
    next_month,
    parse_month,
)


def _schema_accepts(text: str) -> bool:
    # OpenAPI patterns are ECMA regexes, whose `$` does not match before a final newline.
    return re.fullmatch(MONTH_PATTERN.removeprefix("^").removesuffix("$"), text) is not None


def test_the_range_is_the_documented_one():
    assert dt.date(2000, 1, 1) == FIRST_MONTH
    assert dt.date(2100, 12, 1) == LAST_MONTH


@pytest.mark.parametrize(
    ("text", "month"),
    [
        ("2000-01", dt.date(2000, 1, 1)),
        ("2026-10", dt.date(2026, 10, 1)),
        ("2100-12", dt.date(2100, 12, 1)),
    ],
)
def test_months_in_range_parse(text, month):
    assert parse_month(text) == month
    assert _schema_accepts(text)
    next_month(month)  # month arithmetic stays in the calendar


@pytest.mark.parametrize("text", ["1999-12", "2101-01", "9999-12", "0000-01"])
def test_months_out_of_range_are_refused(text):
    _refused_by_parser_and_schema(text, MONTH_RANGE_MESSAGE)


@pytest.mark.parametrize(
    "text",
    [
        "2026-13",
        "2026-1",
        " 2026-10",
        "2026-10\n",
        "\u0662\u0660\u0662\u0666-\u0661\u0660",
        "26-10",
    ],
)
def test_malformed_months_are_refused(text):
    _refused_by_parser_and_schema(text, MONTH_FORMAT_MESSAGE)


def _refused_by_parser_and_schema(text, message):
    with pytest.raises(ValidationError) as caught:
        parse_month(text)
    assert caught.value.message_dict == {"month": [message]}
    assert not _schema_accepts(text)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/billing/months/9999-12/",
        "/api/v1/billing/months/1999-12/claims/",
        "/api/v1/worklist/?month=9999-12",
    ],
)
def test_the_api_answers_400_for_a_month_out_of_range(biller, path):
    api = APIClient()
    api.force_login(biller.user)
    response = api.get(path)
    assert response.status_code == 400
    assert response.json() == {"month": [MONTH_RANGE_MESSAGE]}
