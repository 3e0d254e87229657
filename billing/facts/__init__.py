"""Billing facts no other app holds: other services (R3, R28-R31), month facts (R3, R23)
and the other-services CSV import."""
