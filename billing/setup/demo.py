"""The demo practice's billing setup, payers and usual charges (called from billing/demo.py)."""

from __future__ import annotations

from decimal import Decimal

from billing.setup import selectors, services
from ccm.demo import DemoSeed
from ccm.models import Practice
from ccm.tenancy import practice_scope
from patients.models import Payer, PayerKind

# A bit above the fee schedule's reference amounts (what the demo claims charge, SV102).
DEMO_USUAL_CHARGES = {
    "99490": Decimal("76.00"),
    "99439": Decimal("58.00"),
    "99491": Decimal("95.00"),
    "99437": Decimal("73.00"),
    "99487": Decimal("166.00"),
    "99489": Decimal("90.00"),
}


def seed_billing_setup(demo: DemoSeed) -> None:
    """The demo practice gets a complete setup (idempotent: an existing one is kept)."""
    practice = demo.practices["demo"]
    with practice_scope(practice):
        _billing_setup(practice, demo)


def _medicare_payer(practice: Practice) -> Payer:
    """The demo's MAC: patients' demo payer of kind medicare, else Noridian JE Part B."""
    payers = Payer.objects.for_practice(practice).filter(kind=PayerKind.MEDICARE, is_active=True)
    payer = payers.order_by("name").first()
    if payer is None:
        payer, _ = Payer.objects.for_practice(practice).get_or_create(
            practice=practice,
            payer_id="01112",
            kind=PayerKind.MEDICARE,
            defaults={"name": "Noridian JE Part B"},
        )
    return payer


def _billing_setup(practice: Practice, demo: DemoSeed) -> None:
    """A complete setup (usage T: the demo's files are test files, never production) with
    usual charges a bit above the fee schedule; kept as it is when it exists."""
    if selectors.billing_setup(practice) is not None:
        return
    admin = demo.memberships["admin@demo.test"]
    mac = _medicare_payer(practice)
    data = {
        **services.setup_initial(practice, None),
        "submitter_id": "CM00123",
        "contact_name": "Blair Biller",
        "receiver_id": mac.payer_id,
        "receiver_name": mac.name,
        "usage": "T",
        "medicare_payer": mac,
        "postal_code": "12345-0100",
        "pay_to_line1": "PO Box 4410",
        "pay_to_city": practice.city,
        "pay_to_state": practice.state,
        "pay_to_postal_code": "12345-4410",
    }
    services.billing_setup_save(practice=practice, actor=admin, data=data)
    services.usual_charges_update(practice=practice, actor=admin, amounts=DEMO_USUAL_CHARGES)
