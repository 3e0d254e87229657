"""Template filters for display formats (a builtin library: no {% load %} needed)."""

from django import template

from ccm import formats

register = template.Library()
register.filter("money", formats.money)
