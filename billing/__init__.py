"""Billing (one app, label `billing`, one models.py), in parts: rules/ (the pure engine),
inputs/ (engine-input loading and mapping), close/, claims/, exports/, facts/, fees/ and
dashboard.py. Each part keeps reads in selectors.py and writes in services.py."""
