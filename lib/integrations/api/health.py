"""Probes: liveness (`/healthz`) and readiness (`/readyz`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from .dependencies import Svc
from .models import ErrorResponse, Health, Ready

router = APIRouter()


@router.get("/healthz", response_model=Health, summary="The process is up")
async def healthz() -> dict[str, str]:
    # on the event loop, not in the worker threadpool: requests whose checks are in flight (each format check
    # bounded under 1 s of CPU, issue 28) can hold every worker thread without holding the liveness probe
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Ready,
    responses={503: {"model": ErrorResponse}},
    summary="The store and the status cache are reachable, the keyring holds the recorded key versions; "
    "`drift` counts status-cache rows that disagree with the store. A ready answer is reused for up to 30 s "
    "(`checked_s_ago`): a probe every few seconds costs the store a ping and an overview twice a minute at most",
)
def readyz(svc: Svc) -> dict[str, Any]:
    return svc.readiness(probe=True)
