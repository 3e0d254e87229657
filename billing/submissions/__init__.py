"""Submission batches: each 837P interchange as handed out (stored, so a download again is
byte-identical), the claims in it (a claim in at most one live batch), and resubmitting,
correcting and voiding claims."""
