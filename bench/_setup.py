"""Shared set-up for the benchmark scripts: Django against the dev database (or DATABASE_URL)."""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# bench/patients.py would shadow the `patients` app: take bench/ off the path, put the root first.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ccm.settings")
# The benchmarks' test clients speak plain http; DEBUG=0 would redirect them to https.
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")

import django

django.setup()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
