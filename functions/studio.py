"""The studio's pages, `/api/studio/...`: HTML rendered on the server (studio/) from the shared/ functions the API
calls, fragments the pages poll every few seconds to stay live (an HTTP function answers whole responses: no
streaming), downloads of run outputs, and the pages' CSS and script.

Nothing is readable without signing in (studio/sessions.py): a browser signs in with the admin key on the sign-in
page (a session cookie), or in Azure through App Service Authentication (Entra ID); a script may present the admin
key or an Entra token in `Authorization`, as the API accepts them. Every POST carries the form token of whoever
signed in.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import mimetypes
import urllib.parse
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.cookies import CookieError, SimpleCookie

import azure.functions as func

from functions._http import require_admin
from shared.core.errors import FninferError, InvalidInput, PayloadTooLarge, Unauthorized
from shared.core.storage import app_storage
from shared.pipelines.engine import outputs
from shared.runs import run_records
from studio import sessions, views
from studio.render import BASE, STATIC, render, url
from studio.sessions import Viewer

bp = func.Blueprint()
log = logging.getLogger("fninfer.app")

MAX_FORM_BODY = 64 * 1024
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
#: The studio's static files, with the version their URLs carry (so a new app version's are fetched anew).
STATIC_FILES = {path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:12] for path in STATIC.iterdir()}


def static_url(name: str) -> str:
    return url("static", name, v=STATIC_FILES[name])


def _html(body: str, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(
        body,
        status_code=status,
        mimetype="text/html",
        charset="utf-8",
        headers={**SECURITY_HEADERS, "Cache-Control": "no-store", **(headers or {})},
    )


def _redirect(location: str, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(
        status_code=303, headers={"Location": location, "Cache-Control": "no-store", **(headers or {})}
    )


def _base_url(req: func.HttpRequest) -> str:
    parts = urllib.parse.urlsplit(req.url)
    return f"{parts.scheme}://{parts.netloc}"


def _secure(req: func.HttpRequest) -> bool:
    return urllib.parse.urlsplit(req.url).scheme == "https" or req.headers.get("x-forwarded-proto") == "https"


def _cookie(req: func.HttpRequest, name: str) -> str | None:
    jar = SimpleCookie()
    try:
        jar.load(req.headers.get("cookie", ""))
    except CookieError:
        return None
    return jar[name].value if name in jar else None


def _session_cookie(value: str, max_age: int, secure: bool) -> str:
    flags = f"Path={BASE}; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    return f"{sessions.COOKIE}={value}; {flags}{'; Secure' if secure else ''}"


def viewer_of(req: func.HttpRequest) -> Viewer | None:
    """Who is asking: a session cookie, an Entra ID token from App Service Authentication, or what the API accepts
    in `Authorization`; None when nobody is signed in."""
    viewer = sessions.session_viewer(_cookie(req, sessions.COOKIE))
    if viewer is not None:
        return viewer
    viewer = sessions.entra_viewer(req.headers.get(sessions.EASY_AUTH_ID_TOKEN))
    if viewer is not None:
        return viewer
    if req.headers.get("authorization"):
        require_admin(req)  # Unauthorized naming the problem
        return Viewer(
            subject="authorization:" + hashlib.sha256(req.headers["authorization"].encode()).hexdigest(),
            shown="signed in with a bearer token",
        )
    return None


def form(req: func.HttpRequest) -> dict[str, str]:
    body = req.get_body()
    if len(body) > MAX_FORM_BODY:
        raise PayloadTooLarge(f"the form has {len(body)} bytes; the limit is {MAX_FORM_BODY}")
    try:
        fields = urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as exc:
        raise InvalidInput("the form is not UTF-8") from exc
    return {key: values[0] for key, values in fields.items()}


def _page_number(req: func.HttpRequest) -> int:
    raw = req.params.get("page", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise InvalidInput(f"page must be a positive number, not {raw!r}", field="page")
    return int(raw)


def _common(viewer: Viewer | None, section: str) -> dict[str, object]:
    return {
        "viewer": viewer,
        "section": section,
        "static_url": static_url,
        "form_token": sessions.form_token(viewer) if viewer else "",
    }


Page = Callable[[func.HttpRequest, Viewer], "str | func.HttpResponse"]


def page(section: str, fragment: bool = False) -> Callable[[Page], Callable[[func.HttpRequest], func.HttpResponse]]:
    """A studio handler: signed-in viewers only (a page sends others to the sign-in page, a fragment answers 401),
    POSTs with their form token; errors become the error page with their status."""

    def decorate(handler: Page) -> Callable[[func.HttpRequest], func.HttpResponse]:
        @functools.wraps(handler)
        def endpoint(req: func.HttpRequest) -> func.HttpResponse:
            viewer: Viewer | None = None
            try:
                viewer = viewer_of(req)
                if viewer is None:
                    if fragment or req.method != "GET":
                        raise Unauthorized("sign in to the studio first")
                    return _redirect(url("signin", next=urllib.parse.urlsplit(req.url).path))
                if req.method == "POST":
                    sessions.check_form_token(viewer, form(req).get("form_token"))
                result = handler(req, viewer)
            except FninferError as exc:
                return _error(viewer, section, exc.status, exc.message)
            except Exception:
                reference = uuid.uuid4().hex
                log.exception("Unhandled error in studio page %s (reference %s)", handler.__name__, reference)
                return _error(viewer, section, 500, f"internal error; reference {reference}")
            return result if isinstance(result, func.HttpResponse) else _html(result)

        return endpoint

    return decorate


def _error(viewer: Viewer | None, section: str, status: int, message: str) -> func.HttpResponse:
    return _html(render("error.html", status=status, message=message, **_common(viewer, section)), status=status)


# -- signing in -----------------------------------------------------------------------------------------------------


def _next(value: str | None) -> str:
    """Where to go after signing in: a studio page only (never another site)."""
    if value and value.startswith(BASE) and "//" not in value and "\\" not in value:
        return value
    return BASE


@bp.route(route="studio/signin", methods=["GET", "POST"])
def studio_signin(req: func.HttpRequest) -> func.HttpResponse:
    common = _common(None, "signin")
    entra = sessions.entra_configured()
    if req.method == "GET":
        return _html(render("signin.html", next=_next(req.params.get("next")), error=None, entra=entra, **common))
    try:
        fields = form(req)
        sessions.check_admin_key(fields.get("key", ""))
    except FninferError as exc:
        page_ = render("signin.html", next=_next(req.params.get("next")), error=exc.message, entra=entra, **common)
        return _html(page_, status=exc.status)
    cookie = _session_cookie(sessions.new_session(), sessions.SESSION_SECONDS, _secure(req))
    return _redirect(_next(fields.get("next")), {"Set-Cookie": cookie})


@bp.route(route="studio/signout", methods=["POST"])
def studio_signout(req: func.HttpRequest) -> func.HttpResponse:
    return _redirect(url("signin"), {"Set-Cookie": _session_cookie("", 0, _secure(req))})


@bp.route(route="studio/static/{name}", methods=["GET"])
def studio_static(req: func.HttpRequest) -> func.HttpResponse:
    name = req.route_params["name"]
    if name not in STATIC_FILES:
        return func.HttpResponse("not found", status_code=404, mimetype="text/plain")
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return func.HttpResponse(
        (STATIC / name).read_bytes(),
        headers={**SECURITY_HEADERS, "Content-Type": content_type, "Cache-Control": "public, max-age=86400"},
    )


# -- overview, models, services -------------------------------------------------------------------------------------


@bp.route(route="studio", methods=["GET"])
@page("overview")
def studio_overview(req: func.HttpRequest, viewer: Viewer) -> str:
    return render("overview.html", **views.overview(app_storage()), **_common(viewer, "overview"))


@bp.route(route="studio/activity", methods=["GET"])
@page("overview", fragment=True)
def studio_activity(req: func.HttpRequest, viewer: Viewer) -> str:
    context = views.activity(app_storage(), datetime.now(UTC))
    return render("_activity.html", **context, **_common(viewer, "overview"))


@bp.route(route="studio/models", methods=["GET"])
@page("models")
def studio_models(req: func.HttpRequest, viewer: Viewer) -> str:
    return render("models.html", **views.models_page(app_storage(), _page_number(req)), **_common(viewer, "models"))


@bp.route(route="studio/services", methods=["GET"])
@page("services")
def studio_services(req: func.HttpRequest, viewer: Viewer) -> str:
    context = views.services_page(app_storage(), _page_number(req))
    return render("services.html", **context, **_common(viewer, "services"))


@bp.route(route="studio/services/{name}", methods=["GET"])
@page("services")
def studio_service(req: func.HttpRequest, viewer: Viewer) -> str:
    context = views.service_page(app_storage(), req.route_params["name"], _base_url(req))
    return render("service.html", **context, **_common(viewer, "services"))


@bp.route(route="studio/services/{name}/live", methods=["GET"])
@page("services", fragment=True)
def studio_service_live(req: func.HttpRequest, viewer: Viewer) -> str:
    name = req.route_params["name"]
    context = views.service_live(app_storage(), name, datetime.now(UTC))
    return render("_service_live.html", service={"name": name}, **context, **_common(viewer, "services"))


# -- pipeline runs --------------------------------------------------------------------------------------------------


def _runs_context(req: func.HttpRequest) -> dict[str, object]:
    return views.runs_page(
        app_storage(), req.params.get("marker"), req.params.get("experiment"), req.params.get("status")
    )


@bp.route(route="studio/runs", methods=["GET"])
@page("runs")
def studio_runs(req: func.HttpRequest, viewer: Viewer) -> str:
    return render("runs.html", **_runs_context(req), **_common(viewer, "runs"))


@bp.route(route="studio/runs-live", methods=["GET"])
@page("runs", fragment=True)
def studio_runs_live(req: func.HttpRequest, viewer: Viewer) -> str:
    return render("_runs_table.html", **_runs_context(req), **_common(viewer, "runs"))


@bp.route(route="studio/runs/{run_id}", methods=["GET"])
@page("runs")
def studio_run(req: func.HttpRequest, viewer: Viewer) -> str:
    return render("run.html", **views.run_page(app_storage(), req.route_params["run_id"]), **_common(viewer, "runs"))


@bp.route(route="studio/runs/{run_id}/live", methods=["GET"])
@page("runs", fragment=True)
def studio_run_live(req: func.HttpRequest, viewer: Viewer) -> str:
    run_id = req.route_params["run_id"]
    return render("_run_live.html", run_id=run_id, **views.run_live(app_storage(), run_id), **_common(viewer, "runs"))


def _download(name: str, data: bytes) -> func.HttpResponse:
    filename = name.rsplit("/", 1)[-1].replace('"', "")
    return func.HttpResponse(
        data,
        headers={
            **SECURITY_HEADERS,
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@bp.route(route="studio/runs/{run_id}/outputs/{output}/{*path}", methods=["GET"])
@page("runs")
def studio_run_output(req: func.HttpRequest, viewer: Viewer) -> func.HttpResponse:
    storage, path = app_storage(), req.route_params["path"]
    record = run_records.get_run(storage, req.route_params["run_id"])
    return _download(path, outputs.read_output(storage, record, req.route_params["output"], path))


@bp.route(route="studio/runs/{run_id}/files/{*name}", methods=["GET"])
@page("runs")
def studio_run_file(req: func.HttpRequest, viewer: Viewer) -> func.HttpResponse:
    name = req.route_params["name"]
    return _download(name, outputs.read_run_file(app_storage(), req.route_params["run_id"], name))


# -- published pipelines, endpoints, schedules ----------------------------------------------------------------------


@bp.route(route="studio/pipelines", methods=["GET"])
@page("pipelines")
def studio_pipelines(req: func.HttpRequest, viewer: Viewer) -> str:
    return render("pipelines.html", **views.pipelines_page(app_storage()), **_common(viewer, "pipelines"))


def _submit_form(
    req: func.HttpRequest, viewer: Viewer, template: str, context: dict[str, object], submit: Callable[[], dict]
) -> str | func.HttpResponse:
    """Start a run from a submit form and go to its page; the form again, with what was wrong, when it is refused."""
    try:
        run = submit()
    except FninferError as exc:
        page_ = render(template, **context, error=exc.message, values=form(req), **_common(viewer, "pipelines"))
        return _html(page_, status=exc.status)
    return _redirect(url("runs", run["id"]))


@bp.route(route="studio/pipelines/{pipeline_id}", methods=["GET"])
@page("pipelines")
def studio_pipeline(req: func.HttpRequest, viewer: Viewer) -> str:
    context = views.pipeline_page(app_storage(), req.route_params["pipeline_id"], _base_url(req))
    return render("pipeline.html", **context, error=None, values={}, **_common(viewer, "pipelines"))


@bp.route(route="studio/pipelines/{pipeline_id}/submit", methods=["POST"])
@page("pipelines")
def studio_pipeline_submit(req: func.HttpRequest, viewer: Viewer) -> str | func.HttpResponse:
    storage, pipeline_id = app_storage(), req.route_params["pipeline_id"]
    context = views.pipeline_page(storage, pipeline_id, _base_url(req))
    return _submit_form(
        req, viewer, "pipeline.html", context, lambda: views.submit_pipeline(storage, pipeline_id, form(req))
    )


@bp.route(route="studio/endpoints/{endpoint}", methods=["GET"])
@page("pipelines")
def studio_endpoint(req: func.HttpRequest, viewer: Viewer) -> str:
    context = views.endpoint_page(app_storage(), req.route_params["endpoint"], _base_url(req))
    return render("endpoint.html", **context, error=None, values={}, **_common(viewer, "pipelines"))


@bp.route(route="studio/endpoints/{endpoint}/submit", methods=["POST"])
@page("pipelines")
def studio_endpoint_submit(req: func.HttpRequest, viewer: Viewer) -> str | func.HttpResponse:
    storage, endpoint = app_storage(), req.route_params["endpoint"]
    context = views.endpoint_page(storage, endpoint, _base_url(req))
    return _submit_form(
        req, viewer, "endpoint.html", context, lambda: views.submit_endpoint(storage, endpoint, form(req))
    )


@bp.route(route="studio/schedules", methods=["GET"])
@page("schedules")
def studio_schedules(req: func.HttpRequest, viewer: Viewer) -> str:
    return render("schedules.html", **views.schedules_page(app_storage()), **_common(viewer, "schedules"))


@bp.route(route="studio/schedules/{schedule_id}", methods=["GET"])
@page("schedules")
def studio_schedule(req: func.HttpRequest, viewer: Viewer) -> str:
    context = views.schedule_page(app_storage(), req.route_params["schedule_id"])
    return render("schedule.html", **context, **_common(viewer, "schedules"))


def _set_schedule_status(req: func.HttpRequest, enable: bool) -> func.HttpResponse:
    schedule_id = req.route_params["schedule_id"]
    views.set_schedule_status(app_storage(), schedule_id, enable)
    return _redirect(url("schedules", schedule_id))


@bp.route(route="studio/schedules/{schedule_id}/enable", methods=["POST"])
@page("schedules")
def studio_schedule_enable(req: func.HttpRequest, viewer: Viewer) -> func.HttpResponse:
    return _set_schedule_status(req, enable=True)


@bp.route(route="studio/schedules/{schedule_id}/disable", methods=["POST"])
@page("schedules")
def studio_schedule_disable(req: func.HttpRequest, viewer: Viewer) -> func.HttpResponse:
    return _set_schedule_status(req, enable=False)
