"""``{% invoices_dashboard %}``: Start's sales and purchases of this month and the chart of 12 months
(``invoices.dashboard``), each number a link to Dokumenty filtered to it; accounts' Start view stays free
of invoices."""

from __future__ import annotations

import calendar
from typing import Any

from django import template
from django.utils import timezone

from invoices import dashboard, formatting

register = template.Library()


@register.inclusion_tag("invoices/_dashboard.html", takes_context=True)
def invoices_dashboard(context: template.Context) -> dict[str, Any]:
    company = context.get("current_company")
    if company is None:
        return {"board": None}
    today = timezone.localdate()
    board = dashboard.dashboard(company=company, today=today)
    last_day = board.month.replace(day=calendar.monthrange(board.month.year, board.month.month)[1])
    return {
        "board": board,
        "date_from": board.month.isoformat(),
        "date_to": last_day.isoformat(),
        "chart": dashboard.chart(board.bars, money=lambda v: formatting.money(v, "PLN")),
        "chart_width": dashboard.CHART_WIDTH,
        "chart_height": dashboard.CHART_HEIGHT,
        "bar_width": dashboard.BAR_WIDTH,
        "label_y": dashboard.CHART_HEIGHT - 3,
    }
