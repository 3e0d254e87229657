"""Engine inputs: loading.py reads a practice's records for many patient-months in a fixed
number of queries, facts.py maps them to the engine's facts (month close and worklist)."""
