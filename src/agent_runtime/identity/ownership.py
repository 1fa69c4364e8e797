"""Ownership: who may see and change what. Every domain that keeps per-user
resources (sessions, tasks, files, jobs, keys) uses these helpers, so that
the rule is the same everywhere:

- a user's credential (JWT, their md_ key) sees only what that user owns;
- administrator credentials (the configured API key, the x-internal-auth
  service token, admin md_ keys, anonymous local clients) see everything;
- what an administrator creates has no owner (NULL) and only
  administrators see it;
- someone else's resource answers NOT_FOUND (404), never 403, so ids of
  other users' resources are not confirmed.

How to use it in a domain:

1. Store an `owner_id TEXT` (NULL allowed) column with each resource.
2. In the servicer, read the caller once and pass plain values down:
       owner = new_owner()      # stamp on create
       scope = owner_scope()    # None = sees all, else the owner id to match
3. In the domain/repository:
       check_visible(record.owner_id, scope, NotFound("Task x not found"))
   and for lists `WHERE (? IS NULL OR owner_id = ?)` with (scope, scope),
   or `visible(owner_id, scope)` on records in memory (feeds, streams).
4. `require_admin()` for operations only administrators may do (403).

Domain classes take `scope`/`owner` as arguments (default None: no filter),
so tests call them directly without a principal.
"""

from __future__ import annotations

from agent_runtime.errors import DomainError, PermissionDenied
from agent_runtime.identity.models import visible
from agent_runtime.interceptors.auth import Principal, current_principal

# Scope of a caller without a user id who is not an administrator (only
# possible on open methods): matches no owner.
_NOBODY = "\x00nobody"


def caller(principal: Principal | None = None) -> Principal:
    return principal if principal is not None else current_principal.get()


def new_owner(principal: Principal | None = None) -> str | None:
    """The owner id to stamp on a resource the caller creates (None for
    administrators)."""
    return caller(principal).user_id


def task_owner(principal: Principal | None = None) -> str:
    """Whose agent task (or idempotency key) it is: the user, whichever of
    their credentials (JWT, md_ key) made it; an administrator's
    credential otherwise."""
    who = caller(principal)
    return who.user_id or who.subject


def owner_scope(principal: Principal | None = None) -> str | None:
    """None when the caller sees everything, else the owner id that a
    resource must have for the caller to see it."""
    who = caller(principal)
    if who.admin:
        return None
    return who.user_id or _NOBODY


def check_visible(owner_id: str | None, scope: str | None, not_found: DomainError) -> None:
    """Raises `not_found` (a NotFound) when the resource is outside scope."""
    if not visible(owner_id, scope):
        raise not_found


def require_admin(action: str = "This operation", principal: Principal | None = None) -> None:
    """PERMISSION_DENIED (403 FORBIDDEN) for callers that are authenticated
    but not administrators."""
    if not caller(principal).admin:
        raise PermissionDenied(f"{action} needs an administrator credential (the configured API key or service token)")
