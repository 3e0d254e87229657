"""The factories' data is a function of the test alone (issue 14, point 13: a flaky test)."""

from tests.factories import PatientFactory, UserFactory, reset_for_test


def _generated():
    users = [UserFactory.build() for _ in range(3)]
    patients = [PatientFactory.build() for _ in range(3)]
    return [(u.email, u.full_name) for u in users] + [
        (p.mrn, p.first_name, p.last_name, p.date_of_birth) for p in patients
    ]


def test_a_test_gets_the_same_names_and_numbers_whatever_ran_before_it(request):
    first = _generated()  # what the conftest hook's reset gives this test
    UserFactory.build_batch(5)  # as an earlier test on the same worker would
    reset_for_test(request.node.nodeid)
    assert _generated() == first
    assert first[0][0] == "user0@example.test"
    assert first[3][0] == "MRN000000"
