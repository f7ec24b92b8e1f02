"""Throttles against password guessing: per client address and per username tried.

One rule for every way in: the token endpoint runs these as DRF throttles, the sign-in pages (ours and the
admin's, see core.sign_in) through `sign_in_attempt`. They share the scopes and so the cache keys: a guesser
gets one budget per address and one per username, whichever of the three doors they knock on. The client
address is DRF's (`get_ident`, which honours `NUM_PROXIES`) on every path.
"""

import hashlib
import math
from collections.abc import Mapping

from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle


def _username_tried(request: HttpRequest | Request) -> object:
    # The token endpoint's parsed body, or a sign-in form's POST; the raw value, before any validation.
    data = request.data if isinstance(request, Request) else request.POST
    return data.get("username") if isinstance(data, Mapping) else None


class LoginAddressThrottle(SimpleRateThrottle):
    scope = "login"

    def get_cache_key(self, request: HttpRequest | Request, view: object) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginUsernameThrottle(SimpleRateThrottle):
    scope = "login_username"

    def get_cache_key(self, request: HttpRequest | Request, view: object) -> str | None:
        username = _username_tried(request)
        if not isinstance(username, str) or not username:
            return None
        # Hashed: the name tried may hold spaces, control characters or NUL, which no cache key may.
        tried = username.strip().lower()[:150].encode("utf-8", "surrogatepass")
        return self.cache_format % {"scope": self.scope, "ident": hashlib.sha256(tried).hexdigest()}


LOGIN_THROTTLES = (LoginAddressThrottle, LoginUsernameThrottle)


def sign_in_attempt(request: HttpRequest) -> int | None:
    """Count one sign-in attempt of a page against the login throttles, as DRF's `check_throttles` does for the
    token endpoint (every throttle records it, refused or not). None when it may go ahead; when it is refused,
    the whole seconds until the next attempt may succeed (0 when the throttles cannot tell)."""
    waits = []
    for throttle_class in LOGIN_THROTTLES:
        throttle = throttle_class()
        if not throttle.allow_request(request, None):
            waits.append(throttle.wait())
    if not waits:
        return None
    return math.ceil(max((wait for wait in waits if wait is not None), default=0))
