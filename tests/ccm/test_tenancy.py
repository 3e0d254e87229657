import uuid

import pytest
from django.db import IntegrityError, transaction
from django.http import Http404

from ccm.models import ApiToken, AuditEvent, Membership
from ccm.tenancy import (
    NoPracticeScope,
    current_practice_id,
    get_for_practice_or_404,
    practice_scope,
)
from tests.factories import ApiTokenFactory, MembershipFactory


def test_tenant_manager_raises_without_a_practice_scope(admin):
    with pytest.raises(NoPracticeScope):
        list(Membership.objects.all())
    with pytest.raises(NoPracticeScope):
        Membership.objects.count()
    with pytest.raises(NoPracticeScope):
        AuditEvent.objects.exists()


def test_scoped_manager_sees_only_the_scoped_practice(admin, outsider):
    with practice_scope(admin.practice):
        assert list(Membership.objects.all()) == [admin]
    with practice_scope(outsider.practice):
        assert list(Membership.objects.all()) == [outsider]


def test_practice_scope_is_reset_even_when_the_block_raises(practice):
    seen = []

    def scoped_failure():
        with practice_scope(practice):
            seen.append(current_practice_id())
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        scoped_failure()
    assert seen == [practice.pk]
    assert current_practice_id() is None


def test_get_for_practice_or_404_gives_404_for_another_practices_object(admin, outsider):
    assert get_for_practice_or_404(Membership, admin.practice, admin.pk) == admin
    with pytest.raises(Http404):
        get_for_practice_or_404(Membership, admin.practice, outsider.pk)
    with pytest.raises(Http404):
        get_for_practice_or_404(Membership, admin.practice, uuid.uuid4())
    with pytest.raises(Http404):
        get_for_practice_or_404(Membership, admin.practice, "not-a-uuid")


def test_database_refuses_a_token_linking_two_practices(admin, outsider):
    # The composite FK (practice_id, membership_id) must reject this even though the ORM allows it.
    with pytest.raises(IntegrityError, match="same_practice"), transaction.atomic():
        ApiTokenFactory(membership=admin, practice=outsider.practice)


def test_same_practice_token_is_accepted(admin):
    token = ApiTokenFactory(membership=admin)
    with practice_scope(admin.practice):
        assert ApiToken.objects.get() == token


def test_a_user_is_member_of_a_practice_only_once(admin):
    with pytest.raises(IntegrityError), transaction.atomic():
        MembershipFactory(practice=admin.practice, user=admin.user)


def test_every_tenant_uniqueness_rule_includes_practice():
    from django.apps import apps

    from ccm.tenancy import TenantModel

    for model in apps.get_models():
        if not issubclass(model, TenantModel):
            continue
        for constraint in model._meta.constraints:
            fields = getattr(constraint, "fields", ())
            if fields:
                assert "practice" in fields, f"{model.__name__}.{constraint.name}"
        for field in model._meta.fields:
            if field.unique and not field.primary_key:
                # a globally unique column is only allowed for unguessable secrets
                assert field.name in {"token_hash"}, f"{model.__name__}.{field.name}"
