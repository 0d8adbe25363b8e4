"""What the member services are given: ports, the code policy, the event registries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from domain.events import DataExporters, EventHandlers
from domain.identity.deps import AuthDeps
from domain.members.ports import PiiVault, SmsSender, WeChatGateway


@dataclass(frozen=True)
class MemberPolicy:
    code_ttl: timedelta = timedelta(minutes=5)
    code_max_attempts: int = 5
    code_resend_seconds: int = 60
    codes_per_phone: int = 5
    codes_per_address: int = 20
    code_window_seconds: int = 3600


@dataclass(frozen=True)
class MemberDeps:
    auth: AuthDeps
    vault: PiiVault
    wechat: WeChatGateway
    sms: SmsSender
    events: EventHandlers = field(default_factory=EventHandlers)
    exporters: DataExporters = field(default_factory=DataExporters)
    policy: MemberPolicy = field(default_factory=MemberPolicy)
    default_wechat_app: str | None = None  # used when a call names no app (one app set up)
