"""The /api router: each compat module brings its own sub-router, included here.

Its lifespan keeps the OpenAPI examples verbatim (nulls included; see app/rest/openapi.py)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from app.rest import openapi, routes_plans, routes_students, routes_tasks
from app.rest.schemas import SAMPLES
from app.state import refuse_nul_in_url


def build_router() -> APIRouter:
    router = APIRouter(
        lifespan=openapi.lifespan(SAMPLES), dependencies=[Depends(refuse_nul_in_url)]
    )
    router.include_router(routes_students.router)
    router.include_router(routes_plans.router)
    router.include_router(routes_tasks.router)
    return router
