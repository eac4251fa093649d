"""``/dashboard``: the cost dashboard for admin keys.

Sign in with an admin API key through the form (``POST /dashboard/login``), which sets
an HttpOnly, SameSite=Strict cookie holding the key for the dashboard's paths only; an
``Authorization: Bearer`` header works too (scripts). plotly.js is served from the
installed plotly package, so the page needs no internet.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from broker.api.deps import services
from broker.auth import Principal
from broker.dashboard.charts import chart_html
from broker.dashboard.data import DashboardSource
from broker.dashboard.page import login_page, render
from broker.errors import BrokerError
from broker.ledger import open_ledger

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)
COOKIE = "lb_dashboard"
PLOTLY_PATH = "/dashboard/plotly.min.js"


@cache
def plotly_js() -> bytes:
    return resources.files("plotly").joinpath("package_data", "plotly.min.js").read_bytes()


async def _admin(request: Request, key: str | None) -> Principal | None:
    if not key:
        return None
    try:
        principal = await services(request).keys.resolve(f"Bearer {key}")
    except BrokerError:
        return None
    return principal if principal.admin else None


def _source(request: Request) -> DashboardSource:
    state = request.app.state
    if getattr(state, "dashboard", None) is None:
        svc = services(request)
        state.dashboard = DashboardSource(svc.redis, svc.config, open_ledger(svc.config))
    return state.dashboard  # type: ignore[no-any-return]


@router.get("", response_class=HTMLResponse)
async def dashboard(request: Request) -> Response:
    header = request.headers.get("authorization", "")
    key = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else request.cookies.get(COOKIE)
    if await _admin(request, key) is None:
        return HTMLResponse(login_page("an admin key is required" if key else None), status_code=401)
    data = await _source(request).gather()
    return HTMLResponse(render(data, chart_html(data), PLOTLY_PATH), headers={"Cache-Control": "no-store"})


@router.post("/login")
async def login(request: Request) -> Response:
    form = parse_qs((await request.body()).decode(errors="replace"))
    key = (form.get("key") or [""])[0].strip()
    if await _admin(request, key) is None:
        return HTMLResponse(login_page("that is not an admin API key"), status_code=403)
    response = RedirectResponse("/dashboard", status_code=303)
    secure = request.url.scheme == "https"
    response.set_cookie(COOKIE, key, httponly=True, samesite="strict", secure=secure, path="/dashboard")
    return response


@router.get("/logout")
async def logout() -> Response:
    response = RedirectResponse("/dashboard", status_code=303)
    response.delete_cookie(COOKIE, path="/dashboard")
    return response


@router.get("/plotly.min.js")
async def plotly_bundle() -> Response:
    return Response(plotly_js(), media_type="application/javascript", headers={"Cache-Control": "max-age=86400"})
