"""Practice billing setup: EDI ids, billing provider and pay-to addresses, payers, usual
charges; and the contractor front-end rules an 837 must meet before it is handed out."""
