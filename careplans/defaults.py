"""The condition templates every practice starts with (admins edit their own copies).

Plain-language goals and interventions for the six most common CCM conditions, keyed by
ICD-10-CM prefixes. `{responsible}` rows name a role, not a person: the coordinator fills in
names when drafting.
"""

from __future__ import annotations

from typing import Any

DEFAULT_TEMPLATES: list[dict[str, Any]] = [
    {
        "name": "Diabetes",
        "icd10_prefixes": "E08, E09, E10, E11, E13",
        "expected_outcome": "Blood sugar in the target range without low-sugar episodes.",
        "symptom_management": (
            "Check blood sugar as agreed; treat readings under 70 mg/dL with 15 g of fast sugar "
            "and recheck in 15 minutes; call the care team for readings over 300 mg/dL twice in "
            "a row, or for signs of infection in the feet."
        ),
        "goals": [
            {
                "goal": "Lower average blood sugar",
                "target": "HbA1c below 7.5%",
                "measure": "HbA1c every 3 months",
            },
            {
                "goal": "Avoid low blood sugar",
                "target": "No readings under 70 mg/dL",
                "measure": "Home glucose log reviewed monthly",
            },
            {
                "goal": "Protect the feet",
                "target": "Daily foot check; yearly foot exam",
                "measure": "Foot exam recorded",
            },
        ],
        "interventions": [
            {
                "intervention": "Monthly call to review the glucose log and medicines",
                "responsible": "Care coordinator",
            },
            {
                "intervention": "Order HbA1c, kidney function and urine albumin",
                "responsible": "Physician",
            },
            {
                "intervention": "Refer for a yearly diabetic eye exam",
                "responsible": "Care coordinator",
            },
        ],
    },
    {
        "name": "Hypertension",
        "icd10_prefixes": "I10, I11, I12, I13, I15, I16",
        "expected_outcome": "Blood pressure under control: less risk of stroke and heart attack.",
        "symptom_management": (
            "Measure blood pressure at home twice a week; call for readings over 180/110, or "
            "with chest pain, severe headache, weakness or trouble speaking (call 911)."
        ),
        "goals": [
            {
                "goal": "Control blood pressure",
                "target": "Below 130/80 mmHg",
                "measure": "Home readings, monthly average",
            },
            {
                "goal": "Reduce salt",
                "target": "Under 2,000 mg sodium a day",
                "measure": "Diet review at each call",
            },
        ],
        "interventions": [
            {
                "intervention": "Review home blood pressure log by phone each month",
                "responsible": "Care coordinator",
            },
            {
                "intervention": "Adjust medicines when the average is above target",
                "responsible": "Physician",
            },
        ],
    },
    {
        "name": "Heart failure",
        "icd10_prefixes": "I50",
        "expected_outcome": "Fewer flare-ups and hospital stays; able to do daily activities.",
        "symptom_management": (
            "Weigh every morning; call the same day for a gain of 2 lb in a day or 5 lb in a "
            "week, new swelling, or more shortness of breath; call 911 for breathlessness at rest."
        ),
        "goals": [
            {
                "goal": "Stay out of the hospital",
                "target": "No heart failure admissions",
                "measure": "Admissions reviewed monthly",
            },
            {
                "goal": "Keep fluid stable",
                "target": "Weight within 3 lb of dry weight",
                "measure": "Daily weight log",
            },
        ],
        "interventions": [
            {
                "intervention": "Weekly weight check-in call for the first month after any change",
                "responsible": "Care coordinator",
            },
            {
                "intervention": "Review diuretic dose against the weight log",
                "responsible": "Physician",
            },
            {"intervention": "Refer to cardiac rehabilitation", "responsible": "Care coordinator"},
        ],
    },
    {
        "name": "COPD",
        "icd10_prefixes": "J43, J44",
        "expected_outcome": "Fewer flare-ups; breathing good enough for daily activities.",
        "symptom_management": (
            "Follow the COPD action plan: start the rescue plan for more cough, mucus colour "
            "change or breathlessness; call the same day; 911 if severely short of breath."
        ),
        "goals": [
            {
                "goal": "Prevent flare-ups",
                "target": "No more than one flare-up in 6 months",
                "measure": "Flare-ups recorded at each call",
            },
            {
                "goal": "Use inhalers correctly",
                "target": "Correct technique shown",
                "measure": "Technique checked every 3 months",
            },
        ],
        "interventions": [
            {
                "intervention": "Review the COPD action plan and inhaler use",
                "responsible": "Care coordinator",
            },
            {
                "intervention": "Offer pulmonary rehabilitation and vaccines",
                "responsible": "Physician",
            },
        ],
    },
    {
        "name": "Chronic kidney disease",
        "icd10_prefixes": "N18",
        "expected_outcome": "Kidney function kept as stable as possible; complications avoided.",
        "symptom_management": (
            "Avoid anti-inflammatory pain pills (ibuprofen, naproxen); call for swelling, much "
            "less urine, or confusion."
        ),
        "goals": [
            {
                "goal": "Slow kidney decline",
                "target": "eGFR stable within 10%",
                "measure": "eGFR every 3-6 months",
            },
            {
                "goal": "Control blood pressure",
                "target": "Below 130/80 mmHg",
                "measure": "Home readings, monthly average",
            },
        ],
        "interventions": [
            {
                "intervention": "Track lab results and medicine doses for kidney safety",
                "responsible": "Care coordinator",
            },
            {
                "intervention": "Refer to nephrology when eGFR falls below 30",
                "responsible": "Physician",
            },
        ],
    },
    {
        "name": "Depression",
        "icd10_prefixes": "F32, F33",
        "expected_outcome": "Mood improved and daily functioning restored.",
        "symptom_management": (
            "Take medicines daily even when feeling better; call for worsening mood; for "
            "thoughts of self-harm call or text 988 at any time."
        ),
        "goals": [
            {"goal": "Improve mood", "target": "PHQ-9 below 10", "measure": "PHQ-9 every month"},
            {
                "goal": "Stay active",
                "target": "A pleasant activity 3 times a week",
                "measure": "Reported at each call",
            },
        ],
        "interventions": [
            {"intervention": "Monthly PHQ-9 and check-in call", "responsible": "Care coordinator"},
            {
                "intervention": "Adjust treatment if PHQ-9 does not improve by 5 points",
                "responsible": "Physician",
            },
            {"intervention": "Refer to counselling", "responsible": "Care coordinator"},
        ],
    },
]
