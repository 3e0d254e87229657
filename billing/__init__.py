"""Billing (one app, label `billing`, one models.py), in parts: rules/ (the pure engine),
inputs/ (engine-input loading and mapping), progress/ (the worklist's stored progress),
close/, claims/, exports/, facts/, fees/, dashboard.py, and panels.py and demo.py (what
billing registers with lower apps). Parts keep reads in selectors.py, writes in services.py."""
