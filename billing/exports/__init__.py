"""Exports of a closed month: CSV, X12 837P (x12.py) and the PDF summary; every download is
recorded and audited, and an 837 marks its claims exported."""
