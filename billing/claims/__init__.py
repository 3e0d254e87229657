"""Claims review: a closed month's claims with lines and explanations, the not-billable
patient-months, and the biller's status tracking."""
