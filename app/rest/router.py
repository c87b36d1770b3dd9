"""The /api router: each compat module brings its own sub-router, included here."""

from __future__ import annotations

from fastapi import APIRouter

from app.rest import routes_plans, routes_students


def build_router() -> APIRouter:
    router = APIRouter()
    router.include_router(routes_students.router)
    router.include_router(routes_plans.router)
    return router
