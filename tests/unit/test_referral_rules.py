"""Referral rules without a database: codes, share payloads, device hashes, programs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from domain.growth.referrals_model import (
    CODE_LENGTH,
    MAX_SCENE,
    ProgramStatus,
    ReferralProgram,
    clean_code,
    device_hash,
    referral_code,
    reward_month,
    share_payload,
)

KEY = b"k" * 32
A = UUID("00000000-0000-7000-8000-000000000001")
B = UUID("00000000-0000-7000-8000-000000000002")


def test_a_code_is_stable_short_readable_and_depends_on_the_key() -> None:
    code = referral_code(KEY, A)
    assert code == referral_code(KEY, A) != referral_code(KEY, B)
    assert referral_code(b"another key" * 3, A) != code
    assert len(code) == CODE_LENGTH and not set(code) & set("01OIL")
    assert clean_code(f"  {code.lower()[:4]}-{code.lower()[4:]} ") == code


def test_the_scene_fits_wechats_32_characters() -> None:
    share = share_payload(referral_code(KEY, A))
    assert len(share.scene) <= MAX_SCENE and share.scene.endswith(share.code)
    assert share.share_path.endswith(f"?ref={share.code}")


def test_device_fingerprints_are_hashed_and_blank_is_none() -> None:
    assert device_hash(KEY, "  ") is None and device_hash(KEY, None) is None
    hashed = device_hash(KEY, "iPhone-123")
    assert hashed is not None and "iPhone" not in hashed and len(hashed) == 32
    assert hashed == device_hash(KEY, " iPhone-123 ") != device_hash(KEY, "iPhone-124")


def test_a_program_is_live_only_active_within_its_window_and_pays_per_yuan() -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    program = ReferralProgram(
        A, "p", ProgramStatus.ACTIVE, start, start + timedelta(days=30),
        500, None, 100, 2, None, 5, start, start,
    )  # fmt: skip
    assert program.live(start) and not program.live(start - timedelta(seconds=1))
    assert not program.live(start + timedelta(days=30))
    program.status = ProgramStatus.PAUSED
    assert not program.live(start)
    assert program.invitee_points_for(5099) == 100 + 50 * 2  # whole yuan only


def test_the_reward_month_is_the_stores_month_not_utcs() -> None:
    # 2026-03-31 17:00 UTC is 2026-04-01 01:00 in Asia/Shanghai.
    assert reward_month(datetime(2026, 3, 31, 17, tzinfo=UTC)) == "2026-04"
    assert reward_month(datetime(2026, 3, 31, 15, tzinfo=UTC)) == "2026-03"
