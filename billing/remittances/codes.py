"""The X12 code lists the acknowledgments and remittances name, as data (no Django): each
code with its published description, so a page or a claim's reason says what it means.

Sources: the 999 guide (005010X231A1) for IK3/IK4/IK5/AK9; the code lists maintained by X12
for the health care claim status category (507) and status (508) codes of the 277CA; the
claim adjustment group codes and claim adjustment reason codes (CARC) of the 835. These are
the codes a CCM practice meets; anything else is shown by its code ("reason code N")."""

from __future__ import annotations

# 999 IK3-04: implementation segment syntax error code.
SEGMENT_ERRORS: dict[str, str] = {
    "1": "Unrecognized segment ID",
    "2": "Unexpected segment",
    "3": "Required segment missing",
    "4": "Loop occurs over maximum times",
    "5": "Segment exceeds maximum use",
    "6": "Segment not in defined transaction set",
    "7": "Segment not in proper sequence",
    "8": "Segment has data element errors",
    "I4": 'Implementation "Not Used" segment present',
    "I6": "Implementation dependent segment missing",
    "I7": "Implementation loop occurs under minimum times",
    "I8": "Implementation segment below minimum use",
    "I9": 'Implementation dependent "Not Used" segment present',
}

# 999 IK4-03: implementation data element syntax error code.
ELEMENT_ERRORS: dict[str, str] = {
    "1": "Required data element missing",
    "2": "Conditional required data element missing",
    "3": "Too many data elements",
    "4": "Data element too short",
    "5": "Data element too long",
    "6": "Invalid character in data element",
    "7": "Invalid code value",
    "8": "Invalid date",
    "9": "Invalid time",
    "10": "Exclusion condition violated",
    "12": "Too many repetitions",
    "13": "Too many components",
    "I6": "Code value not used in implementation",
    "I9": "Implementation dependent data element missing",
    "I10": 'Implementation "Not Used" data element present',
    "I11": "Implementation too few repetitions",
    "I12": "Implementation pattern match failure",
    "I13": 'Implementation dependent "Not Used" data element present',
}

# 999 IK5-01 (transaction set) and AK9-01 (functional group) acknowledgment codes.
ACK_CODES: dict[str, str] = {
    "A": "Accepted",
    "E": "Accepted but errors were noted",
    "M": "Rejected, message authentication code (MAC) failed",
    "P": "Partially accepted, at least one transaction set was rejected",
    "R": "Rejected",
    "W": "Rejected, assurance failed validity tests",
    "X": "Rejected, content after decryption could not be analyzed",
}
ACCEPTED_ACK_CODES = frozenset({"A", "E"})

# 999 IK5-02..06: implementation transaction set syntax error code.
TRANSACTION_ERRORS: dict[str, str] = {
    "1": "Transaction set not supported",
    "2": "Transaction set trailer missing",
    "3": "Transaction set control number in header and trailer do not match",
    "4": "Number of included segments does not match actual count",
    "5": "One or more segments in error",
    "6": "Missing or invalid transaction set identifier",
    "7": "Missing or invalid transaction set control number",
    "18": "Transaction set not in functional group",
    "19": "Invalid transaction set implementation convention reference",
    "23": "Transaction set control number not unique within the functional group",
    "I5": "Implementation one or more segments in error",
    "I6": "Implementation convention not supported",
}

# 999 AK9-05..09: functional group syntax error code.
GROUP_ERRORS: dict[str, str] = {
    "1": "Functional group not supported",
    "2": "Functional group version not supported",
    "3": "Functional group trailer missing",
    "4": "Group control number in the functional group header and trailer do not agree",
    "5": "Number of included transaction sets does not match actual count",
    "6": "Group control number violates syntax",
    "19": "Functional group control number not unique within interchange",
}

# 277CA STC01-1: health care claim status category code (code source 507).
STATUS_CATEGORIES: dict[str, str] = {
    "A0": "Acknowledgement/Forwarded - The claim/encounter has been forwarded to another entity.",
    "A1": "Acknowledgement/Receipt - The claim/encounter has been received. This does not "
    "mean that the claim has been accepted for adjudication.",
    "A2": "Acknowledgement/Acceptance into adjudication system - The claim/encounter has been "
    "accepted into the adjudication system.",
    "A3": "Acknowledgement/Returned as unprocessable claim - The claim/encounter has been "
    "rejected and has not been entered into the adjudication system.",
    "A4": "Acknowledgement/Not Found - The claim/encounter can not be found in the "
    "adjudication system.",
    "A5": "Acknowledgement/Split Claim - The claim/encounter has been split upon acceptance "
    "into the adjudication system.",
    "A6": "Acknowledgement/Rejected for Missing Information - The claim/encounter is missing "
    "the information specified in the Status details and has been rejected.",
    "A7": "Acknowledgement/Rejected for Invalid Information - The claim/encounter has invalid "
    "information as specified in the Status details and has been rejected.",
    "A8": "Acknowledgement/Rejected for relational field in error.",
    "E0": "Response not possible - error on submitted request data.",
    "E1": "Response not possible - System Status.",
    "E2": "Information Holder is not responding; resubmit at a later time.",
    "E3": "Correction required - relational fields in error.",
    "E4": "Trading partner agreement specific requirement not met: Data correction required.",
    "F0": "Finalized - The claim/encounter has completed the adjudication cycle and no more "
    "action will be taken.",
    "F1": "Finalized/Payment - The claim/line has been paid.",
    "F2": "Finalized/Denial - The claim/line has been denied.",
    "F3": "Finalized/Revised - Adjudication information has been changed.",
    "F4": "Finalized/Adjudication Complete - No payment forthcoming - The claim/encounter has "
    "been adjudicated and no further payment is forthcoming.",
    "P0": "Pending: Adjudication/Details are not available.",
    "P1": "Pending/In Process - The claim or encounter is in the adjudication system.",
    "P2": "Pending/Payer Review - The claim/encounter is suspended and pending review.",
    "P3": "Pending/Provider Requested Information - The claim or encounter is waiting for "
    "information that has already been requested from the provider.",
    "P4": "Pending/Patient Requested Information - The claim or encounter is waiting for "
    "information that has already been requested from the patient.",
    "P5": "Pending/Payer Administrative/System hold.",
}
# A0 forwarded, A1 received, A2 accepted (A5 split on acceptance): the payer has the claim.
ACCEPTED_CATEGORIES = frozenset({"A0", "A1", "A2", "A5"})
# Returned unprocessable, not found, missing / invalid information, relational error.
REJECTED_CATEGORIES = frozenset({"A3", "A4", "A6", "A7", "A8", "E0", "E3", "E4"})

# 277CA STC01-2: health care claim status code (code source 508), the ones a 277CA of a
# professional claim carries most.
CLAIM_STATUSES: dict[str, str] = {
    "0": "Cannot provide further status electronically.",
    "1": "For more detailed information, see remittance advice.",
    "3": "Claim has been adjudicated and is awaiting payment cycle.",
    "16": "Claim/encounter has been forwarded to entity.",
    "19": "Entity acknowledges receipt of claim/encounter.",
    "20": "Accepted for processing.",
    "21": "Missing or invalid information.",
    "23": "Returned to Entity.",
    "24": "Entity not approved as an electronic submitter.",
    "26": "Entity not found.",
    "27": "Policy canceled.",
    "28": "Claim submitted to wrong payer.",
    "30": "Subscriber and subscriber id mismatched.",
    "31": "Subscriber and policyholder name mismatched.",
    "33": "Subscriber and subscriber id not found.",
    "35": "Claim/encounter not found.",
    "54": "Duplicate of a previously processed claim/line.",
    "78": "Duplicate of an existing claim/line, awaiting processing.",
    "85": "Entity not primary.",
    "88": "Entity not eligible for benefits for submitted dates of service.",
    "96": "No agreement with entity.",
    "97": "Patient eligibility not found with entity.",
    "109": "Entity not eligible.",
    "116": "Claim submitted to incorrect payer.",
    "125": "Entity's name.",
    "126": "Entity's address.",
    "128": "Entity's tax id.",
    "145": "Entity's specialty/taxonomy code.",
    "153": "Entity's id number.",
    "157": "Entity's Gender.",
    "158": "Entity's date of birth.",
    "164": "Entity's contract/member number.",
    "178": "Submitted charges.",
    "187": "Date(s) of service.",
    "247": "Line information.",
    "249": "Place of service.",
    "255": "Diagnosis code.",
    "454": "Procedure code for services rendered.",
    "476": "Missing or invalid units of service",
    "477": "Diagnosis code pointer is missing or invalid",
    "478": "Claim submitter's identifier",
    "481": "Claim/submission format is invalid.",
    "496": "Submitter not approved for electronic claim submissions on behalf of this entity.",
    "500": "Entity's Postal/Zip Code.",
    "503": "Entity's Street Address.",
    "504": "Entity's Last Name.",
    "505": "Entity's First Name.",
    "510": "Future date.",
    "511": "Invalid character.",
    "562": "Entity's National Provider Identifier (NPI).",
}

# 277CA STC01-3 (and the 835's NM1): entity identifier codes.
ENTITIES: dict[str, str] = {
    "03": "Dependent",
    "40": "Receiver",
    "41": "Submitter",
    "77": "Service location",
    "82": "Rendering provider",
    "85": "Billing provider",
    "87": "Pay-to provider",
    "DN": "Referring provider",
    "GB": "Other insured",
    "IL": "Insured or subscriber",
    "PR": "Payer",
    "QC": "Patient",
}

# 835 CLP02: claim status code.
CLAIM_PAYMENT_STATUSES: dict[str, str] = {
    "1": "Processed as primary",
    "2": "Processed as secondary",
    "3": "Processed as tertiary",
    "4": "Denied",
    "19": "Processed as primary, forwarded to additional payer(s)",
    "20": "Processed as secondary, forwarded to additional payer(s)",
    "21": "Processed as tertiary, forwarded to additional payer(s)",
    "22": "Reversal of previous payment",
    "23": "Not our claim, forwarded to additional payer(s)",
    "25": "Predetermination pricing only - no payment",
}
DENIED = "4"
REVERSAL = "22"

# 835 CAS01: claim adjustment group code.
ADJUSTMENT_GROUPS: dict[str, str] = {
    "CO": "Contractual obligation",
    "CR": "Correction and reversal",
    "OA": "Other adjustment",
    "PI": "Payer initiated reduction",
    "PR": "Patient responsibility",
}
PATIENT_RESPONSIBILITY = "PR"
# The groups that write a charge off (the practice may not bill the patient for them).
WRITE_OFF_GROUPS = frozenset({"CO", "OA", "PI"})

# 835 CAS02: claim adjustment reason codes (CARC).
ADJUSTMENT_REASONS: dict[str, str] = {
    "1": "Deductible Amount",
    "2": "Coinsurance Amount",
    "3": "Co-payment Amount",
    "4": "The procedure code is inconsistent with the modifier used or a required modifier "
    "is missing.",
    "5": "The procedure code/type of bill is inconsistent with the place of service.",
    "11": "The diagnosis is inconsistent with the procedure.",
    "16": "Claim/service lacks information or has submission/billing error(s).",
    "18": "Exact duplicate claim/service.",
    "22": "This care may be covered by another payer per coordination of benefits.",
    "23": "The impact of prior payer(s) adjudication including payments and/or adjustments.",
    "24": "Charges are covered under a capitation agreement/managed care plan.",
    "26": "Expenses incurred prior to coverage.",
    "27": "Expenses incurred after coverage terminated.",
    "29": "The time limit for filing has expired.",
    "31": "Patient cannot be identified as our insured.",
    "45": "Charge exceeds fee schedule/maximum allowable or contracted/legislated fee arrangement.",
    "50": "These are non-covered services because this is not deemed a 'medical necessity' "
    "by the payer.",
    "96": "Non-covered charge(s).",
    "97": "The benefit for this service is included in the payment/allowance for another "
    "service/procedure that has already been adjudicated.",
    "109": "Claim/service not covered by this payer/contractor. You must send the "
    "claim/service to the correct payer/contractor.",
    "119": "Benefit maximum for this time period or occurrence has been reached.",
    "140": "Patient/Insured health identification number and name do not match.",
    "151": "Payment adjusted because the payer deems the information submitted does not "
    "support this many/frequency of services.",
    "181": "Procedure code was invalid on the date of service.",
    "185": "The rendering provider is not eligible to perform the service billed.",
    "197": "Precertification/authorization/notification/pre-treatment absent.",
    "204": "This service/equipment/drug is not covered under the patient's current benefit plan.",
    "206": "National Provider Identifier - missing.",
    "208": "National Provider Identifier - Not matched.",
    "234": "This procedure is not paid separately.",
    "236": "This procedure or procedure/modifier combination is not compatible with another "
    "procedure or procedure/modifier combination provided on the same day according to the "
    "National Correct Coding Initiative or workers compensation state regulations/ fee "
    "schedule requirements.",
    "242": "Services not provided by network/primary care providers.",
    "253": "Sequestration - reduction in federal payment",
    "B7": "This provider was not certified/eligible to be paid for this procedure/service on "
    "this date of service.",
    "B13": "Previously paid. Payment for this claim/service may have been provided in a "
    "previous payment.",
}


def _described(table: dict[str, str], code: str, unknown: str) -> str:
    return table.get(code, unknown.format(code=code))


def segment_error(code: str) -> str:
    return _described(SEGMENT_ERRORS, code, "segment error code {code}")


def element_error(code: str) -> str:
    return _described(ELEMENT_ERRORS, code, "element error code {code}")


def ack_code(code: str) -> str:
    return _described(ACK_CODES, code, "acknowledgment code {code}")


def transaction_error(code: str) -> str:
    return _described(TRANSACTION_ERRORS, code, "transaction set error code {code}")


def group_error(code: str) -> str:
    return _described(GROUP_ERRORS, code, "functional group error code {code}")


def status_category(code: str) -> str:
    return _described(STATUS_CATEGORIES, code, "status category {code}")


def claim_status(code: str) -> str:
    return _described(CLAIM_STATUSES, code, "status code {code}")


def entity(code: str) -> str:
    return _described(ENTITIES, code, "entity {code}")


def claim_payment_status(code: str) -> str:
    return _described(CLAIM_PAYMENT_STATUSES, code, "claim status code {code}")


def adjustment_group(code: str) -> str:
    return _described(ADJUSTMENT_GROUPS, code, "group {code}")


def adjustment_reason(code: str) -> str:
    """A CARC's description; an unknown code is shown as "reason code N"."""
    return _described(ADJUSTMENT_REASONS, code, "reason code {code}")


def claim_status_meaning(category: str, status: str, entity_code: str = "") -> str:
    """A 277CA claim status in words: category, status (and whose information it is)."""
    parts = [f"{category}: {status_category(category)}"]
    if status:
        parts.append(f"{status}: {claim_status(status)}")
    if entity_code:
        parts.append(f"({entity(entity_code)})")
    return " ".join(parts)
