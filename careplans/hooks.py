"""What higher apps may do when a care transition is recorded (ccm/hooks.py).

Timelog registers the follow-up work (a follow-up call task due within two business days,
and a medication reconciliation task after a discharge); each runs inside the recording's
transaction, so a transition is never saved without its follow-up."""

from __future__ import annotations

from collections.abc import Callable

from careplans.models import CareTransition
from ccm.hooks import Hooks
from ccm.models import Membership, Practice

TransitionRecorded = Callable[[Practice, Membership, CareTransition], None]
transition_recorded: Hooks[TransitionRecorded] = Hooks("care transition recorded")
