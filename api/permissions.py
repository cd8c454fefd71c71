"""Who may use which part of the REST API. Access to one ticket is decided by the ticket
selectors and services; these classes guard the configuration endpoints."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


class IsAgent(BasePermission):
    message = "Only agents may use this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_agent)


class IsAdmin(BasePermission):
    message = "Only admins may use this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_admin)


class AgentsReadAdminsWrite(BasePermission):
    """Configuration: agents read it, admins change it."""

    message = "Only agents may read this, and only admins change it."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_agent):
            return False
        return request.method in SAFE_METHODS or user.is_admin


class EveryoneReadsAdminsWrite(BasePermission):
    """Lists an end user needs too (statuses to close a ticket, public help topics)."""

    message = "Only admins may change this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or user.is_admin
