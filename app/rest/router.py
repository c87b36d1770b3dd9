"""The /api router: each compat module brings its own sub-router, included here.

Its lifespan keeps the OpenAPI examples verbatim (nulls included; see app/rest/openapi.py)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Security
from fastapi.security import HTTPBearer

from app.rest import (
    openapi,
    routes_changes,
    routes_jwt,
    routes_plans,
    routes_students,
    routes_tasks,
)
from app.rest.schemas import SAMPLES
from app.state import refuse_nul_in_url

# Declares the bearer token on the /api operations that take one, in the OpenAPI document, so
# Swagger UI's "Authorize" sends it. It decides nothing (auto_error=False): each route
# authenticates (app.state.authenticate).
BEARER = HTTPBearer(
    scheme_name="bearer",
    bearerFormat="JWT",
    description="A JWT (`studentgraph token --sub ... --scope ...` mints one in development); "
    "each operation names the scopes it needs.",
    auto_error=False,
)


def build_router() -> APIRouter:
    router = APIRouter(
        lifespan=openapi.lifespan(SAMPLES), dependencies=[Depends(refuse_nul_in_url)]
    )
    bearer = [Security(BEARER)]
    router.include_router(routes_students.router, dependencies=bearer)
    router.include_router(routes_plans.router, dependencies=bearer)
    router.include_router(routes_tasks.router, dependencies=bearer)
    router.include_router(routes_changes.router, dependencies=bearer)
    router.include_router(routes_jwt.router)
    return router
