"""One money format on every page: {{ amount|money }} (a builtin filter) and ccm.formats.money."""

from decimal import Decimal

import pytest
from django.template import Context, Template

from ccm.formats import money


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("2542.45"), "$2,542.45"),
        (Decimal("2154.96"), "$2,154.96"),
        (Decimal("66.13"), "$66.13"),
        (Decimal("0"), "$0.00"),
        (Decimal("-12"), "-$12.00"),
        (Decimal("-0.001"), "$0.00"),
        (Decimal("1234567.005"), "$1,234,567.01"),
        (70, "$70.00"),
        ("50.4", "$50.40"),
        (None, ""),
        ("", ""),
        ("not a number", ""),
    ],
)
def test_money_writes_dollars_with_separators_and_cents(value, shown):
    assert money(value) == shown


def test_money_filter_needs_no_load_tag():
    rendered = Template("{{ a|money }} / {{ b|money }}").render(
        Context({"a": Decimal("2542.45"), "b": Decimal("-12")})
    )
    assert rendered == "$2,542.45 / -$12.00"
