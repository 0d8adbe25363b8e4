"""Access tokens: HS256 JWTs with exp/iat/nbf/aud/iss and a `kid` header for key rotation."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import jwt

from domain.clock import Clock
from domain.errors import AuthError, AuthErrorCode
from domain.identity.model import Principal, PrincipalKind, StaffRole

ALGORITHMS = ["HS256"]  # the only algorithm we sign or accept; never "none"
MAX_VERIFIED = 10_000  # verified tokens remembered (then forgotten all at once)


def _expired() -> AuthError:
    return AuthError(
        AuthErrorCode.UNAUTHENTICATED,
        "The access token has expired. Refresh it with refreshToken or log in again.",
    )


class JwtAccessTokens:
    def __init__(
        self,
        *,
        clock: Clock,
        secret: str,
        kid: str,
        previous_keys: dict[str, str],
        issuer: str,
        audience: str,
        ttl: timedelta,
    ):
        self._clock = clock
        self._kid = kid
        self._keys = {**previous_keys, kid: secret}
        self._issuer = issuer
        self._audience = audience
        self._ttl = ttl
        # Tokens whose signature and claims were checked: (principal, exp, not before). The
        # same token comes with every request of a session; its time claims are still
        # checked each time, against the clock.
        self._verified: dict[str, tuple[Principal, int, int]] = {}

    def issue(self, principal: Principal) -> tuple[str, datetime]:
        now = self._clock.now()
        expires = now + self._ttl
        claims: dict[str, object] = {
            "sub": str(principal.id),
            "typ": principal.kind.value,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "iss": self._issuer,
            "aud": self._audience,
        }
        if principal.role is not None:
            claims["role"] = principal.role.value
        if principal.store_ids:
            claims["stores"] = sorted(str(s) for s in principal.store_ids)
        if principal.session_id is not None:
            claims["sid"] = str(principal.session_id)
        token = jwt.encode(
            claims, self._keys[self._kid], algorithm=ALGORITHMS[0], headers={"kid": self._kid}
        )
        return token, expires

    def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            principal, expires, not_before = known
            now = int(self._clock.now().timestamp())
            if expires <= now:
                raise _expired()
            if not_before <= now:
                return principal
        principal, expires, not_before = self._verify(token)
        if len(self._verified) >= MAX_VERIFIED:
            self._verified.clear()
        self._verified[token] = (principal, expires, not_before)
        return principal

    def _verify(self, token: str) -> tuple[Principal, int, int]:
        try:
            header = jwt.get_unverified_header(token)
            key = self._keys.get(str(header.get("kid")))
            if key is None or header.get("alg") not in ALGORITHMS:
                raise jwt.InvalidTokenError("unknown key id or algorithm")
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self._audience,
                issuer=self._issuer,
                options={
                    "require": ["exp", "iat", "sub", "aud", "iss"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
            # Time claims are checked against our clock (so tests can move time), not the wall.
            now = int(self._clock.now().timestamp())
            if int(claims["exp"]) <= now:
                raise jwt.ExpiredSignatureError("expired")
            if int(claims["iat"]) > now or int(claims.get("nbf", claims["iat"])) > now:
                raise jwt.ImmatureSignatureError("not yet valid")
            kind = PrincipalKind(claims["typ"])
            principal = Principal(
                kind=kind,
                id=UUID(claims["sub"]),
                role=StaffRole(claims["role"]) if "role" in claims else None,
                store_ids=frozenset(UUID(s) for s in claims.get("stores", [])),
                session_id=UUID(claims["sid"]) if "sid" in claims else None,
            )
            not_before = max(int(claims["iat"]), int(claims.get("nbf", claims["iat"])))
            return principal, int(claims["exp"]), not_before
        except jwt.ExpiredSignatureError:
            raise _expired() from None
        except (jwt.PyJWTError, KeyError, ValueError, TypeError):
            raise AuthError(
                AuthErrorCode.UNAUTHENTICATED,
                "The access token is invalid (bad signature, audience, issuer or format).",
            ) from None
