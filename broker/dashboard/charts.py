"""The dashboard's charts as plotly figures, from gathered data (pure). Each chart is
embedded as a div plus a ``Plotly.newPlot`` call; plotly.js itself is served by the API
from the installed plotly package (the page works offline)."""

from __future__ import annotations

from collections import defaultdict
from itertools import accumulate
from typing import Any

import plotly.graph_objects as go

from broker.dashboard.data import DashboardData

DAY_MS = 86_400_000
LAYOUT: dict[str, Any] = {
    "margin": {"l": 50, "r": 20, "t": 40, "b": 40},
    "height": 320,
    "template": "plotly_white",
    "legend": {"orientation": "h", "y": -0.2},
}


def spend_vs_budget(data: DashboardData) -> go.Figure:
    """Spend and budget side by side per team, labelled with the share used."""
    teams = sorted(data.spend)
    budgets = {b["team"]: b["budget_usd"] for b in data.budgets if b["feature"] is None}
    fig = go.Figure()
    fig.add_bar(
        name="spend $",
        x=teams,
        y=[data.spend[t] for t in teams],
        marker_color="#3b6ea8",
        text=[
            f"${data.spend[t]:,.2f}" + (f" ({data.spend[t] / budgets[t]:.0%})" if t in budgets else "") for t in teams
        ],
        textposition="outside",
    )
    fig.add_bar(
        name="budget $",
        x=teams,
        y=[budgets.get(t) for t in teams],
        marker_color="rgba(192,57,43,0.35)",
        text=[f"${budgets[t]:,.2f}" if t in budgets else "" for t in teams],
        textposition="outside",
    )
    fig.update_layout(title="Spend vs budget this month (US$)", barmode="group", **LAYOUT)
    fig.update_yaxes(rangemode="tozero")
    return fig


def month_range(month: str) -> list[str]:
    """The x range of a month's daily charts, so one day of data still reads as a month."""
    year, number = map(int, month.split("-"))
    following = f"{year + number // 12}-{number % 12 + 1:02d}-01"
    return [f"{month}-01", following]


def _series(rows: list[dict[str, Any]], key: str, cumulative: bool) -> dict[str, tuple[list[str], list[float]]]:
    by: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for row in rows:
        by[str(row[key])].append((row["day"], float(row["cost_usd"] or 0)))
    series = {}
    for name, points in sorted(by.items()):
        points.sort()
        values = [v for _, v in points]
        series[name] = ([d for d, _ in points], list(accumulate(values)) if cumulative else values)
    return series


def spend_over_time_by_team(data: DashboardData) -> go.Figure:
    fig = go.Figure()
    for team, (days, values) in _series(data.ledger.get("by_team_day", []), "team", True).items():
        fig.add_scatter(name=team, x=days, y=values, mode="lines+markers")
    fig.update_layout(title="Cumulative spend per team (US$, ledger)", **LAYOUT)
    fig.update_xaxes(type="date", range=month_range(data.month))
    fig.update_yaxes(rangemode="tozero")
    return fig


def spend_over_time_by_model(data: DashboardData) -> go.Figure:
    fig = go.Figure()
    for model, (days, values) in _series(data.ledger.get("by_model_day", []), "model", False).items():
        fig.add_bar(name=model, x=days, y=values, width=DAY_MS * 0.8)
    fig.update_layout(title="Daily spend per model (US$, ledger)", barmode="stack", **LAYOUT)
    fig.update_xaxes(type="date", range=month_range(data.month))
    return fig


def top_features(data: DashboardData) -> go.Figure:
    rows = list(reversed(data.ledger.get("features", [])))
    fig = go.Figure()
    fig.add_bar(
        x=[float(r["cost_usd"] or 0) for r in rows],
        y=[f"{r['team']} / {r['feature']}" for r in rows],
        orientation="h",
        marker_color="#5a9e6f",
    )
    fig.update_layout(title="Top features by spend (US$)", **LAYOUT)
    return fig


def cache_and_savings(data: DashboardData) -> go.Figure:
    rows = data.ledger.get("teams", [])
    teams = [r["team"] for r in rows]
    fig = go.Figure()
    fig.add_bar(name="cache savings $", x=teams, y=[float(r["cache_saved_usd"] or 0) for r in rows])
    fig.add_bar(name="routing savings $", x=teams, y=[float(r["routing_saved_usd"] or 0) for r in rows])
    fig.add_scatter(
        name="cache hit rate",
        x=teams,
        y=[(r["cache_hits"] / r["jobs"]) if r["jobs"] else 0 for r in rows],
        yaxis="y2",
        mode="markers",
        marker={"size": 12},
    )
    fig.update_layout(
        title="Cache hit rate and savings",
        yaxis={"title": "US$", "rangemode": "tozero"},
        yaxis2={"title": "hit rate", "overlaying": "y", "side": "right", "range": [0, 1], "tickformat": ".0%"},
        **LAYOUT,
    )
    return fig


def provider_health(data: DashboardData) -> go.Figure:
    rows = data.ledger.get("providers", [])
    labels = [f"{r['provider']}/{r['model']}" for r in rows]
    fig = go.Figure()
    fig.add_bar(name="failed jobs %", x=labels, y=[100 * r["failures"] / r["jobs"] if r["jobs"] else 0 for r in rows])
    fig.add_scatter(name="p95 latency ms", x=labels, y=[r["p95_latency_ms"] for r in rows], yaxis="y2", mode="markers")
    fig.update_layout(
        title="Provider health, last 24 h",
        yaxis={"title": "failed %", "rangemode": "tozero"},
        yaxis2={"title": "p95 ms", "overlaying": "y", "side": "right", "rangemode": "tozero"},
        **LAYOUT,
    )
    return fig


def queue_depth(data: DashboardData) -> go.Figure:
    teams = sorted(data.queue_depth)
    fig = go.Figure()
    fig.add_bar(x=teams, y=[data.queue_depth[t] for t in teams], marker_color="#8e6bb0")
    fig.update_layout(title="Jobs queued per team (now)", **LAYOUT)
    fig.update_yaxes(rangemode="tozero")
    return fig


CHARTS = {
    "spend-vs-budget": spend_vs_budget,
    "spend-by-team": spend_over_time_by_team,
    "spend-by-model": spend_over_time_by_model,
    "top-features": top_features,
    "cache": cache_and_savings,
    "providers": provider_health,
    "queues": queue_depth,
}


def chart_html(data: DashboardData) -> dict[str, str]:
    """Each chart as an HTML fragment (div + script), without plotly.js itself."""
    return {
        name: build(data).to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=f"chart-{name}",
            config={"displaylogo": False, "responsive": True},
        )
        for name, build in CHARTS.items()
    }
