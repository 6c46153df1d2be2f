"""The console's pages and actions: Starlette endpoints that read and write through the
runtime's services with the caller's context, and render the templates.

Every read goes through a service with ``caller.context`` (a partner sees only its tickets, and
another's ticket is the same 404 as a missing one); every action needs the scope of the API
operation it is, carries the caller's form token, and calls the service the API's handler
calls with the same body, so the same rules run and the same events are recorded.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from troubleticket.api.errors import STATUS, PayloadTooLarge, UnsupportedMediaType
from troubleticket.api.middleware import CONSOLE_CSP
from troubleticket.bootstrap import Runtime
from troubleticket.console import actions, views
from troubleticket.console.auth import CSRF_FIELD, Caller, ConsoleAuth, CsrfTokens
from troubleticket.console.events import DEFAULT_TIMES, BoardEvents, Stopping, StreamTimes
from troubleticket.console.reads import LIST, PATCH, PLAN, RETRIEVE, STEP, Reads
from troubleticket.context import Context, current_request_id, note
from troubleticket.domain.errors import Forbidden, TroubleTicketError
from troubleticket.store.port import StoreUnavailable

logger = logging.getLogger(__name__)

PREFIX = "/console"
HERE = Path(__file__).parent


def status_of(exc: TroubleTicketError) -> int:
    """The HTTP status the API answers ``exc`` with."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def _templates() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        shown_time=views.shown_time, seconds=views.seconds, time_left=views.time_left
    )
    environment.globals.update(prefix=PREFIX, quote=functools.partial(quote, safe=""))
    return environment


class Console:
    """The console of one app: its Starlette application (``app``) on the runtime's services.

    ``auth`` finds the caller and gives the form tokens ``csrf`` checks (the same key);
    ``scopes``: the scope each API operation needs (the served table); ``tokens``: callers come
    with tokens (``TT_AUTH=jwt``), so their writes record the scope that allowed them, as the
    API's do.
    """

    def __init__(
        self,
        run: Runtime,
        auth: ConsoleAuth,
        csrf: CsrfTokens,
        *,
        scopes: Mapping[str, str],
        tokens: bool,
        stream: StreamTimes = DEFAULT_TIMES,
        csp: str = CONSOLE_CSP,
    ) -> None:
        self.run = run
        self.reads = Reads(run)
        self.auth = auth
        self.csrf = csrf
        self.scopes = dict(scopes)
        self.tokens = tokens
        self.stream = stream
        self.csp = csp  # the Content-Security-Policy of its pages
        self.stopping = Stopping()
        self.templates = _templates()
        self.logout: str | None = None  # where signing out is posted (with a sign-in)
        self.app = Starlette(
            routes=self._routes(),
            exception_handlers={
                TroubleTicketError: self._refused,
                StoreUnavailable: self._unavailable,
            },
        )

    # -- routing ---------------------------------------------------------------------------

    def _routes(self) -> list[BaseRoute]:
        inside: list[BaseRoute] = [
            Route("/", self.board_page, methods=["GET"]),
            Route("/board", self.board_fragment, methods=["GET"]),
            Route("/events", self.board_events, methods=["GET"]),
            Route("/major-incidents", self.major_incidents, methods=["GET"]),
            Route("/tickets/{ticket_id}", self.ticket_page, methods=["GET"]),
            Route("/tickets/{ticket_id}/notes", self.add_note, methods=["POST"]),
            Route("/tickets/{ticket_id}/status", self.move_status, methods=["POST"]),
            Route("/tickets/{ticket_id}/escalate", self.escalate, methods=["POST"]),
            Route("/tickets/{ticket_id}/cancel", self.cancel, methods=["POST"]),
            Route("/tickets/{ticket_id}/activities", self.plan_activity, methods=["POST"]),
            Route(
                "/tickets/{ticket_id}/activities/{activity_id}/state",
                self.step_activity,
                methods=["POST"],
            ),
            Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
        ]
        outside: list[BaseRoute] = [
            Route(PREFIX, self.to_board, methods=["GET"]),
        ]
        # sign-in routes: given under the prefix, or relative to it
        for route in self.auth.routes():
            path = getattr(route, "path", "")
            under = path.startswith(PREFIX + "/")
            (outside if under else inside).append(route)
            if path.endswith("/logout") and "POST" in (getattr(route, "methods", None) or ()):
                self.logout = path if under else PREFIX + path
        return [*outside, Mount(PREFIX, routes=inside)]

    async def to_board(self, _request: Request) -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=308)

    # -- who asks ----------------------------------------------------------------------------

    async def _caller(self, request: Request) -> Caller | Response:
        """The caller, or the answer that gets one (a sign-in); a request of htmx's is told to
        reload the page instead of being redirected in the background."""
        found = await self.auth.caller(request)
        if isinstance(found, Response) and request.headers.get("hx-request") == "true":
            return Response(status_code=200, headers={"HX-Refresh": "true"})
        return found

    def _needs(self, operation: str) -> str:
        """The scope of an API operation; one the table lacks is an error, never "none needed"
        (raises KeyError)."""
        return self.scopes[operation]

    def may(self, caller: Caller, operation: str) -> bool:
        return caller.may(self._needs(operation))

    def _require(self, caller: Caller, operation: str) -> str:
        """Raises: Forbidden: the caller lacks the operation's scope."""
        scope = self._needs(operation)
        if not caller.may(scope):
            raise Forbidden(f"This needs the scope {scope} ({operation}), which you do not hold")
        return scope

    def _context(self, caller: Caller, scope: str | None = None) -> Context:
        context = caller.context
        note(actor=context.actor, party=context.party_id)
        return replace(
            context, request_id=current_request_id(), scope=scope if self.tokens else None
        )

    # -- rendering ---------------------------------------------------------------------------

    def render(
        self, template: str, caller: Caller | None, status: int = 200, **values: Any
    ) -> HTMLResponse:
        page = self.templates.get_template(template)
        csrf = self.auth.csrf_token(caller) if caller is not None else ""
        values.setdefault("section", "")
        values.setdefault("logout", self.logout if caller is not None else None)
        body = page.render(
            caller=caller, csrf=csrf, csrf_field=CSRF_FIELD, http_status=status, **values
        )
        return HTMLResponse(body, status_code=status)

    async def _refused(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, TroubleTicketError)
        status = status_of(exc)
        if status >= 500:
            logger.error("console: %s %s: %s", status, exc.code, exc.message)
        return self.render("error.html", None, status, code=exc.code, message=exc.message)

    async def _unavailable(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StoreUnavailable)
        message = f"{exc.message}; retry in {exc.retry_after} s"
        response = self.render("error.html", None, 503, code="storeUnavailable", message=message)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    # -- the board ---------------------------------------------------------------------------

    async def board_page(self, request: Request) -> Response:
        caller = await self._caller(request)
        if isinstance(caller, Response):
            return caller
        self._require(caller, LIST)
        context = self._context(caller)
        filters = views.BoardFilters.of(request.query_params)
        values: dict[str, Any] = {
            "filters": filters,
            "levels": self.run.policy.priority.levels,
            "statuses": views.OPEN,
            "error": filters.problem,
        }
        status = 400 if filters.problem else 200
        board = None
        seen = ""
        if filters.problem is None:
            # what the board looked like before it was read: the stream tells a change made
            # between this page and its connecting
            seen = board_token(await run_in_threadpool(self.reads.signature, context, filters))
            board = await run_in_threadpool(self.reads.board, context, filters)
        figures = await run_in_threadpool(self.reads.charts, context)
        return self.render(
            "board.html",
            caller,
            status,
            section="board",
            board=board,
            seen=seen,
            **figures,
            **values,
        )

    async def board_fragment(self, request: Request) -> Response:
        caller = await self._caller(request)
        if isinstance(caller, Response):
            return caller
        self._require(caller, LIST)
        filters = views.BoardFilters.of(request.query_params)
        if filters.problem is not None:
            return self.render(
                "error.html", caller, 400, code="invalidRequest", message=filters.problem
            )
        board = await run_in_threadpool(self.reads.board, self._context(caller), filters)
        return self.render("board_table.html", caller, board=board)

    async def board_events(self, request: Request) -> Response:
        caller = await self.auth.caller(request)
        if isinstance(caller, Response) or not self.may(caller, LIST):
            return Response(status_code=204)  # an event source is told not to come back
        filters = views.BoardFilters.of(request.query_params)
        if filters.problem is not None:
            return Response(status_code=204)
        context = self._context(caller)

        async def signature() -> str:
            return board_token(await run_in_threadpool(self.reads.signature, context, filters))

        seen = request.query_params.get("seen") or None
        return BoardEvents(signature, self.stream, self.stopping, seen=seen)

    async def major_incidents(self, request: Request) -> Response:
        caller = await self._caller(request)
        if isinstance(caller, Response):
            return caller
        self._require(caller, LIST)
        found = await run_in_threadpool(self.reads.major_incidents, self._context(caller))
        return self.render("major_incidents.html", caller, section="major", **found)

    # -- a ticket ----------------------------------------------------------------------------

    async def _ticket_response(
        self, caller: Caller, ticket_id: str, error: TroubleTicketError | None = None
    ) -> Response:
        context = self._context(caller)
        may = functools.partial(self.may, caller)
        values = await run_in_threadpool(self.reads.ticket, ticket_id, context, may)
        status = 200 if error is None else status_of(error)
        return self.render("ticket.html", caller, status, error=error, **values)

    async def ticket_page(self, request: Request) -> Response:
        caller = await self._caller(request)
        if isinstance(caller, Response):
            return caller
        self._require(caller, RETRIEVE)
        return await self._ticket_response(caller, request.path_params["ticket_id"])

    # -- actions -----------------------------------------------------------------------------

    async def _form(self, request: Request) -> actions.Form:
        """Raises: UnsupportedMediaType, PayloadTooLarge, InvalidRequest."""
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != actions.FORM_MEDIA_TYPE:
            raise UnsupportedMediaType(f"A console form is sent as {actions.FORM_MEDIA_TYPE}")
        limit = self.run.settings.max_body_bytes
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limit:
                raise PayloadTooLarge(f"The form exceeds the limit of {limit} bytes")
        return actions.Form.parse(bytes(body))

    async def _act(
        self,
        request: Request,
        operation: str,
        perform: Callable[[Caller, Context, actions.Form, str], Awaitable[None]],
    ) -> Response:
        """An action: the caller's form token checked, then the operation's scope, then
        ``perform`` with the context of a write; back to the ticket (303), or the ticket page
        with the refusal (the API's status) when a rule refused.

        Raises:
            Forbidden: a stale or missing form token, or a caller without the scope.
        """
        ticket_id = request.path_params["ticket_id"]
        caller = await self._caller(request)
        if isinstance(caller, Response):
            return caller
        form = await self._form(request)
        self.csrf.check(caller, form.get(CSRF_FIELD))
        scope = self._require(caller, operation)
        context = self._context(caller, scope)
        try:
            await perform(caller, context, form, ticket_id)
        except TroubleTicketError as refused:
            logger.info("console: %s refused: %s %s", operation, refused.code, refused.message)
            return await self._ticket_response(caller, ticket_id, refused)
        return RedirectResponse(f"{PREFIX}/tickets/{quote(ticket_id, safe='')}", status_code=303)

    async def _patch(self, context: Context, ticket_id: str, patch: actions.TicketPatch) -> None:
        await run_in_threadpool(
            functools.partial(
                self.run.tickets.patch,
                ticket_id,
                patch.body,
                media_type=patch.media_type,
                context=context,
            )
        )

    async def add_note(self, request: Request) -> Response:
        async def perform(caller: Caller, context: Context, form: actions.Form, tid: str) -> None:
            ticket = await run_in_threadpool(
                functools.partial(self.run.tickets.get, tid, context=context)
            )
            patch = actions.add_note(form, ticket.doc, author=caller.name, now=self.run.clock())
            await self._patch(context, tid, patch)

        return await self._act(request, PATCH, perform)

    async def move_status(self, request: Request) -> Response:
        async def perform(caller: Caller, context: Context, form: actions.Form, tid: str) -> None:
            await self._patch(context, tid, actions.move_status(form))

        return await self._act(request, PATCH, perform)

    async def escalate(self, request: Request) -> Response:
        async def perform(caller: Caller, context: Context, form: actions.Form, tid: str) -> None:
            await self._patch(context, tid, actions.escalate(form))

        return await self._act(request, PATCH, perform)

    async def cancel(self, request: Request) -> Response:
        async def perform(caller: Caller, context: Context, form: actions.Form, tid: str) -> None:
            await self._patch(context, tid, actions.cancel(form))

        return await self._act(request, PATCH, perform)

    async def plan_activity(self, request: Request) -> Response:
        async def perform(caller: Caller, context: Context, form: actions.Form, tid: str) -> None:
            found = await run_in_threadpool(self.reads.activities, tid, context)
            body = actions.plan_activity(form, [str(a["id"]) for a in found])
            create = functools.partial(self.run.activities.create, tid, body, context=context)
            await run_in_threadpool(create)

        return await self._act(request, PLAN, perform)

    async def step_activity(self, request: Request) -> Response:
        activity_id = request.path_params["activity_id"]

        async def perform(caller: Caller, context: Context, form: actions.Form, tid: str) -> None:
            body = actions.activity_state(form)
            await run_in_threadpool(
                functools.partial(
                    self.run.activities.patch, tid, activity_id, body, context=context
                )
            )

        return await self._act(request, STEP, perform)


def board_token(signature: object) -> str:
    """A board's signature (``reads.signature``) as a short token a page can carry."""
    return hashlib.sha256(repr(signature).encode()).hexdigest()[:16]
