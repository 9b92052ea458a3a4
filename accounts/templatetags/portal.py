"""Template tags of the page frame (base.html)."""

from __future__ import annotations

from typing import Any

from django import template
from django.template.loader import render_to_string
from django.test.signals import setting_changed
from django.urls import get_script_prefix
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

register = template.Library()

# The menu depends only on the active tab, the language and the URL prefix, all of which are fixed for the
# life of the process except the tab; so each variant is rendered once per process and then reused (the
# menu is on every page, twice: the top menu and the bottom bar).
_nav_html: dict[tuple[str, str, str], SafeString] = {}


@register.simple_tag(takes_context=True)
def nav_items(context: template.Context) -> SafeString:
    """The main menu's links, the active tab marked."""
    active = str(context.get("nav_active") or "")
    key = (get_language() or "", get_script_prefix(), active)
    html = _nav_html.get(key)
    if html is None:
        html = _nav_html[key] = mark_safe(render_to_string("_nav_items.html", {"nav_active": active}))  # noqa: S308
    return html


def _nav_cache_clear(**_: Any) -> None:
    """Tests that override the URLconf or the languages must not see a menu built under other settings."""
    _nav_html.clear()


setting_changed.connect(_nav_cache_clear)
