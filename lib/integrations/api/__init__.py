"""The REST endpoints the org-facing frontend calls with an org API key (`X-API-Key`). The app factory only wires
the routers (`integrations`, `health`), the middleware, the error handlers and the start-up reconcile."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import IntegrationError
from ..service import IntegrationService
from . import health, integrations
from .dependencies import _built
from .handlers import http_error, integration_error, invalid_request
from .middleware import BodyLimit, NoTrailingSlash

log = logging.getLogger("integrations")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build the service before the first request; repair status drift left by writers that stopped mid-way."""
    svc = _built(app)
    try:
        fixed = svc.reconcile(actor="api:startup").fixed
        if fixed:
            log.warning("reconciled %d status-cache row(s) at start-up", fixed)
    except IntegrationError as exc:
        log.warning("reconcile at start-up failed: %s (see /readyz)", exc.code)
    yield


def create_app(svc: IntegrationService | None = None) -> FastAPI:
    """The FastAPI app; `svc` defaults to connect() (settings from env / .env)."""
    app = FastAPI(
        title="Integrations API",
        version="1",
        description="Set up, read, re-validate and delete an "
        "organization's provider credentials. Authenticate with the org's API key in `X-API-Key`.",
        lifespan=lifespan,
    )
    app.state.svc = svc
    app.add_middleware(BodyLimit)
    app.add_middleware(NoTrailingSlash)
    app.exception_handler(IntegrationError)(integration_error)
    app.exception_handler(RequestValidationError)(invalid_request)
    app.exception_handler(StarletteHTTPException)(http_error)
    app.include_router(integrations.router)
    app.include_router(health.router)
    return app
