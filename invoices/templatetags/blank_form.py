"""``{% blankpart "name" %}…{% endblankpart %}``: a part of a blank form rendered once per process and kept.

A blank Wystaw/Dodaj form (the view sets ``blank_form`` in the context) looks the same on every request
except for a few values, so its parts (the fields rendered through Django's form templates, the costliest
part of the page) are kept in this process, under a key made of everything a part's markup is derived from:
the release (code, templates and catalogs), the language, the form's class, direction and prefix, its
initial values (the view's and the fields' callable ones, such as today's date), the choices set on this
form's fields, and whatever else the tag is given (``{% blankpart "payment" editing %}``). A bound form
(a POST with its errors and the values typed) is always rendered afresh.

Hidden fields (the form's idempotency key) differ on every request and are left out of the key, so they
belong outside the parts: a part whose markup shows a hidden field's value is not kept."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from django import forms, template
from django.conf import settings
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

register = template.Library()

# Parts differ by company only through its values (e.g. the last bank account), so a few hundred suffice.
MAX_PARTS = 512
_parts: OrderedDict[tuple[Any, ...], SafeString] = OrderedDict()
_lock = threading.Lock()


def parts_clear() -> None:
    """Forget every kept part (tests)."""
    with _lock:
        _parts.clear()


def _freeze(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    return value if isinstance(value, (str, int, float, bool, type(None))) else (type(value), str(value))


def _hidden(form: forms.BaseForm) -> list[str]:
    return [name for name, field in form.fields.items() if isinstance(field.widget, forms.HiddenInput)]


def form_key(form: forms.BaseForm) -> tuple[Any, ...]:
    """What a blank form's markup is derived from, besides the release and the language."""
    hidden = set(_hidden(form))
    initial = {name: value for name, value in form.initial.items() if name not in hidden}
    computed = {
        name: form[name].value()
        for name, field in form.fields.items()
        if callable(field.initial) and name not in hidden and name not in initial
    }
    choices = {name: list(field.choices) for name, field in form.fields.items() if hasattr(field, "choices")}
    return (
        type(form).__module__,
        type(form).__qualname__,
        getattr(form, "direction", ""),
        form.prefix or "",
        tuple(form.fields),
        _freeze(initial),
        _freeze(computed),
        _freeze(choices),
    )


class BlankPartNode(template.Node):
    def __init__(self, nodelist: template.NodeList, name: str, vary_on: list[Any]) -> None:
        self.nodelist = nodelist
        self.name = name
        self.vary_on = vary_on

    def render(self, context: template.Context) -> str:
        form = context.get("form")
        if not context.get("blank_form") or form is None or form.is_bound:
            return self.nodelist.render(context)
        form_key_value = getattr(form, "_blank_part_key", None)
        if form_key_value is None:
            form_key_value = form_key(form)
            form._blank_part_key = form_key_value  # computed once per form and request
        key = (
            settings.RELEASE_KEY,
            get_language(),
            self.name,
            form_key_value,
            _freeze([v.resolve(context) for v in self.vary_on]),
        )
        with _lock:
            html = _parts.get(key)
            if html is not None:
                _parts.move_to_end(key)
                return html
        html = mark_safe(self.nodelist.render(context))  # noqa: S308 - our template, autoescaped
        per_request = [str(form[name].value()) for name in _hidden(form)]
        if any(value and value in html for value in per_request):
            return html  # shows a value of this request only: not kept
        with _lock:
            _parts[key] = html
            while len(_parts) > MAX_PARTS:
                _parts.popitem(last=False)
        return html


@register.tag
def blankpart(parser: template.base.Parser, token: template.base.Token) -> BlankPartNode:
    bits = token.split_contents()
    if len(bits) < 2 or bits[1][0] not in "\"'" or bits[1][-1] != bits[1][0]:
        raise template.TemplateSyntaxError('{% blankpart "name" [value ...] %} takes a quoted name first')
    nodelist = parser.parse(("endblankpart",))
    parser.delete_first_token()
    return BlankPartNode(nodelist, bits[1][1:-1], [parser.compile_filter(bit) for bit in bits[2:]])
