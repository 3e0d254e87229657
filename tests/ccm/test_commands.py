import io

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from ccm.models import Membership, Practice, User


def _seed():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_creates_the_contracts_practices_and_users(db):
    assert "Demo ready" in _seed()
    assert set(Practice.objects.values_list("slug", flat=True)) == {"demo", "other"}
    roles = {
        (m.user.email, m.practice.slug, m.role)
        for m in Membership.objects.unscoped().select_related("user", "practice")
    }
    assert roles >= {
        ("admin@demo.test", "demo", "admin"),
        ("physician@demo.test", "demo", "physician"),
        ("coordinator@demo.test", "demo", "coordinator"),
        ("biller@demo.test", "demo", "biller"),
        ("outsider@other.test", "other", "admin"),
    }
    # the contract's five demo users keep their roles; extra staff are never admins
    assert {r for r in roles if r[2] == "admin"} == {
        ("admin@demo.test", "demo", "admin"),
        ("outsider@other.test", "other", "admin"),
    }
    physician = Membership.objects.unscoped().get(user__email="physician@demo.test")
    assert len(physician.npi) == 10
    assert User.objects.get(email="coordinator@demo.test").check_password("demo-pass-2026")


def test_seed_demo_adds_patients_to_both_practices(db):
    from patients.models import Patient, Status

    _seed()
    demo = Patient.objects.unscoped().filter(practice__slug="demo")
    assert demo.count() == 60
    assert Patient.objects.unscoped().filter(practice__slug="other").count() == 12
    assert demo.filter(status=Status.ENROLLED).count() > 30


def test_seed_demo_patients_option_tops_up(db):
    from patients.models import Patient

    call_command("seed_demo", "--patients", "75", verbosity=0)
    assert Patient.objects.unscoped().filter(practice__slug="demo").count() == 75


def test_seed_demo_is_idempotent(db):
    _seed()
    from patients.models import Condition, Patient

    def counts():
        return (
            Practice.objects.count(),
            User.objects.count(),
            Membership.objects.unscoped().count(),
            Patient.objects.unscoped().count(),
            Condition.objects.unscoped().count(),
        )

    before = counts()
    _seed()
    assert counts() == before


def test_create_api_token_prints_a_working_token(db):
    _seed()
    out = io.StringIO()
    call_command(
        "create_api_token", "--email", "biller@demo.test", "--practice", "demo", stdout=out
    )
    token = out.getvalue().strip()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/v1/me/").json()["role"] == "biller"


@pytest.mark.parametrize(
    ("email", "slug", "message"),
    [
        ("biller@demo.test", "nope", "No practice"),
        ("outsider@other.test", "demo", "no active membership"),
    ],
)
def test_create_api_token_refuses_bad_arguments(db, email, slug, message):
    _seed()
    with pytest.raises(CommandError, match=message):
        call_command("create_api_token", "--email", email, "--practice", slug)
