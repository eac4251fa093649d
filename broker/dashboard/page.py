"""The dashboard's HTML (pure): banner of this month's alerts, a table per team, charts,
recent alerts, provider errors and reconciliation drift. Every value is escaped."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

from broker.dashboard.data import DashboardData

STYLE = """
body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#222}
header{background:#1f2d3d;color:#fff;padding:12px 24px;display:flex;justify-content:space-between}
main{padding:16px 24px}.grid{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:16px}
@media (max-width:1000px){.grid{grid-template-columns:minmax(0,1fr)}}
.card{background:#fff;border-radius:6px;padding:8px;box-shadow:0 1px 3px rgba(0,0,0,.1)}
table{border-collapse:collapse;width:100%;background:#fff}th,td{padding:6px 10px;border-bottom:1px solid #e3e6ea;
text-align:right}th:first-child,td:first-child{text-align:left}.banner{background:#fdecea;border-left:6px solid #c0392b;
padding:10px 16px;margin-bottom:8px}.block{color:#c0392b;font-weight:bold}.downgrade{color:#d68910;font-weight:bold}
h2{font-size:1.05rem;margin:20px 0 8px}a{color:#9cc3ff}
"""


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _rows(items: list[list[str]], attributes: list[str] | None = None) -> str:
    out = []
    for index, cells in enumerate(items):
        attr = attributes[index] if attributes else ""
        out.append(f"<tr {attr}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return "".join(out)


def _table(headers: list[str], body: str, table_id: str) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def team_rows(data: DashboardData) -> str:
    budgets = {b["team"]: b for b in data.budgets if b["feature"] is None}
    ledger = {r["team"]: r for r in data.ledger.get("teams", [])}
    items, attributes = [], []
    for team in sorted(data.spend):
        b: dict[str, Any] = budgets.get(team, {})
        row: dict[str, Any] = ledger.get(team, {})
        action = b.get("action", "run")
        items.append(
            [
                escape(team),
                f'<span class="spend">{_money(data.spend[team])}</span>',
                _money(b.get("budget_usd")),
                f"{b['fraction']:.0%}" if b else "-",
                escape(b.get("policy", "-")),
                f'<span class="{escape(action)}">{escape(action)}</span>',
                f"{row.get('jobs', 0):,}",
                f"{row.get('failures', 0):,}",
                f"{row.get('cache_hits', 0):,}",
                f"{data.queue_depth.get(team, 0):,}",
            ]
        )
        attributes.append(f'data-team="{escape(team)}"')
    return _rows(items, attributes)


def budget_rows(data: DashboardData) -> str:
    items, attributes = [], []
    for b in data.budgets:
        scope = b["team"] + (f"/{b['feature']}" if b["feature"] else "")
        items.append(
            [
                escape(scope),
                _money(b["spend_usd"]),
                _money(b["budget_usd"]),
                f"{b['fraction']:.0%}",
                ", ".join(f"{t * 100:g} %" for t in b["crossed"]) or "-",
                escape(b["policy"]),
                f'<span class="{escape(b["action"])}">{escape(b["action"])}</span>',
            ]
        )
        attributes.append(f'data-scope="{escape(scope)}"')
    return _rows(items, attributes)


RESIZE = """<script>window.addEventListener('load', function () {
  document.querySelectorAll('.js-plotly-plot').forEach(function (g) { Plotly.Plots.resize(g); });
});</script>"""


def render(data: DashboardData, charts: dict[str, str], plotly_src: str) -> str:
    this_month = [a for a in data.alerts if a.get("month") == data.month]
    banner = "".join(
        f'<div class="banner" role="alert">{escape(a["message"])} <small>({_when(a["at"])})</small></div>'
        for a in this_month[:5]
    )
    teams = _table(
        ["team", "spend", "budget", "used", "policy", "next job", "jobs", "failures", "cache hits", "queued"],
        team_rows(data),
        "teams",
    )
    budgets = _table(
        ["scope", "spend", "budget", "used", "crossed", "policy", "next job"], budget_rows(data), "budgets"
    )
    alerts = _table(
        ["when", "scope", "threshold", "spend", "budget"],
        _rows(
            [
                [
                    _when(a["at"]),
                    escape(a["team"] + (f"/{a['feature']}" if a.get("feature") else "")),
                    f"{a['threshold_percent']:g} %",
                    _money(a["spend_usd"]),
                    _money(a["budget_usd"]),
                ]
                for a in data.alerts
            ]
        ),
        "alerts",
    )
    errors = _table(
        ["provider", "model", "status", "failed calls"],
        _rows(
            [
                [escape(e["provider"]), escape(e["model"]), escape(e["status"]), f"{e['count']:,}"]
                for e in data.provider_errors[:20]
            ]
        ),
        "provider-errors",
    )
    drift = _table(
        ["scope", "counters", "ledger", "drift"],
        _rows(
            [
                [
                    escape(d["team"] + (f"/{d['feature']}" if d.get("feature") else "")),
                    f"${d['counter_usd']:,.6f}",
                    f"${d['ledger_usd']:,.6f}",
                    f"${d['drift_usd']:,.6f}",
                ]
                for d in data.drift
            ]
        ),
        "drift",
    )
    cards = "".join(f'<div class="card">{html}</div>' for html in charts.values())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="30">
<title>llm-broker · costs {escape(data.month)}</title><style>{STYLE}</style>
<script src="{escape(plotly_src)}"></script></head>
<body><header><strong>llm-broker · cost dashboard · {escape(data.month)}</strong>
<span>updated {_when(data.generated_at)} · <a href="/dashboard/logout">log out</a></span></header>
<main>{banner}<h2>Teams this month</h2>{teams}<div class="grid" style="margin-top:16px">{cards}</div>
<h2>Budgets this month</h2>{budgets}
<h2>Recent budget alerts</h2>{alerts}<h2>Provider errors (all time)</h2>{errors}
<h2>Budget counters vs ledger (last reconciliation)</h2>{drift}</main>{RESIZE}</body></html>"""


def login_page(error: str | None = None) -> str:
    message = f'<p class="banner">{escape(error)}</p>' if error else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>llm-broker · sign in</title><style>{STYLE}</style></head>
<body><header><strong>llm-broker · cost dashboard</strong></header><main>{message}
<form method="post" action="/dashboard/login"><label>Admin API key
<input type="password" name="key" autocomplete="off" required size="60"></label>
<button type="submit">Sign in</button></form></main></body></html>"""
