"""Reads of the practice archives (issue 19): the practice's latest ones, one by id (another
practice's is a 404). No side effects."""

from __future__ import annotations

from typing import Any

from billing.models import PracticeArchive
from ccm.models import Practice
from ccm.tenancy import get_for_practice_or_404


def archive_list(*, practice: Practice, limit: int) -> list[PracticeArchive]:
    """The practice's latest archives, newest first, with their requesters."""
    archives = PracticeArchive.objects.for_practice(practice).select_related(
        "practice", "requested_by__user"
    )
    return list(archives.order_by("-created_at")[:limit])


def archive_get(*, practice: Practice, archive_id: Any) -> PracticeArchive:
    """One of the practice's archives, or 404 (unknown and another practice's alike)."""
    archives = PracticeArchive.objects.for_practice(practice).select_related("practice")
    archive: PracticeArchive = get_for_practice_or_404(archives, practice, archive_id)
    return archive
