"""Госуслуги sign-ins in progress: the `oidc_state` table (the state's SHA-256 is the key)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update

from eirc.storage.repository import Repository
from eirc.storage.tables import OidcState


@dataclass(frozen=True)
class HeldState:
    """What a state held when it was claimed (the verifier still encrypted)."""

    nonce_hash: str
    verifier_enc: str
    user_id: str | None


class OidcStates(Repository):
    async def purge_expired(self, *, now: datetime) -> None:
        await self.session.execute(delete(OidcState).where(OidcState.expires_at <= now))

    async def add(self, state: OidcState) -> None:
        self.session.add(state)

    async def claim(self, key: str, *, now: datetime) -> HeldState | None:
        """The live state, marked used and its verifier wiped in one conditional UPDATE — of two racing
        completions exactly one gets it; None for an unknown, used or expired state."""
        row = (await self.session.execute(select(OidcState).where(OidcState.id == key))).scalar_one_or_none()
        if row is None:
            return None
        held = HeldState(nonce_hash=row.nonce_hash, verifier_enc=row.verifier_enc, user_id=row.user_id)
        result = await self.session.execute(
            update(OidcState)
            .where(OidcState.id == key, OidcState.used_at.is_(None), OidcState.expires_at > now)
            .values(used_at=now, verifier_enc="")
        )
        return held if result.rowcount == 1 else None
