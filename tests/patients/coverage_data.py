"""Payers and coverage input the coverage tests share (no fixtures: plain builders)."""

import datetime as dt

from patients.models import PayerKind
from tests.factories import PayerFactory

START = dt.date(2026, 1, 1)
MBI = "1EG4TE5MK73"


def payers(practice):
    """One active payer of each kind, by kind."""
    names = {
        PayerKind.MEDICARE: ("Noridian JE Part B", "01112"),
        PayerKind.MEDICARE_ADVANTAGE: ("Humana Medicare Advantage", "61101"),
        PayerKind.MEDICAID: ("Medi-Cal", "610442"),
        PayerKind.MEDIGAP: ("Mutual of Omaha Medigap", "71412"),
        PayerKind.COMMERCIAL: ("Acme Employer Plan", "87726"),
        PayerKind.OTHER: ("Auto Insurer", "99999"),
    }
    return {
        kind: PayerFactory(practice=practice, kind=kind, name=name, payer_id=payer_id)
        for kind, (name, payer_id) in names.items()
    }
