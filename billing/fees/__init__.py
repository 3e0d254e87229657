"""The practice's fee schedule (R26) and POLICY switches."""
