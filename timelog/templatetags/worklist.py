"""`{% worklist_table table %}`: the worklist's rows (timelog.worklist_render.Table) with the
running timer the page's context processor read for the header (no second read)."""

from django import template
from django.utils.safestring import SafeString

from timelog.worklist_render import Table

register = template.Library()


@register.simple_tag(takes_context=True)
def worklist_table(context: template.Context, table: Table) -> SafeString:
    return table.html(context.get("running_timer"))
