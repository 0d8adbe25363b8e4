from __future__ import annotations

from typing import Any
from uuid import UUID

from tortoise import fields
from tortoise.models import Model

from domain.members.model import (
    CandidateState,
    Channel,
    ConsentPurpose,
    IdentityKind,
    MemberStatus,
    VerifiedBy,
)


class MemberRow(Model):
    id = fields.UUIDField(primary_key=True)
    status = fields.CharEnumField(MemberStatus, max_length=10)
    display_name = fields.CharField(max_length=64)
    # Unused since migration 0014 (the tier is the loyalty account's): nullable, so the release
    # before it, which still writes the column, and this one, which does not, can run side by
    # side during a rolling deploy. A later migration drops it.
    tier = fields.CharField(max_length=20, null=True)
    created_channel = fields.CharEnumField(Channel, max_length=20)
    merged_into: fields.ForeignKeyNullableRelation[MemberRow] = fields.ForeignKeyField(
        "models.MemberRow",
        related_name="absorbed",
        null=True,
        on_delete=fields.RESTRICT,
        db_index=True,
    )
    data_key = fields.CharField(max_length=200, null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    erased_at = fields.DatetimeField(null=True)
    birthday = fields.CharField(max_length=5, null=True)  # "MM-DD" (domain Birthday)
    birthday_year = fields.SmallIntField(null=True)

    merged_into_id: UUID | None

    class Meta:
        table = "member"


class MemberIdentityRow(Model):
    id = fields.UUIDField(primary_key=True)
    member: fields.ForeignKeyRelation[MemberRow] = fields.ForeignKeyField(
        "models.MemberRow", related_name="identities", on_delete=fields.RESTRICT, db_index=True
    )
    kind = fields.CharEnumField(IdentityKind, max_length=20)
    app_id = fields.CharField(max_length=64)
    lookup_hash = fields.CharField(max_length=64, unique=True)
    ciphertext = fields.TextField()
    masked = fields.CharField(max_length=64)
    verified = fields.BooleanField()
    verified_by = fields.CharEnumField(VerifiedBy, max_length=10)
    linked_at = fields.DatetimeField()
    # A phone's last 4 digits, keyed-hashed (0023_cs_desk): CS searches by them.
    suffix_hash = fields.CharField(max_length=64, null=True, db_index=True)

    member_id: UUID

    class Meta:
        table = "member_identity"


class ConsentRecordRow(Model):
    id = fields.UUIDField(primary_key=True)
    member_id = fields.UUIDField(db_index=True)
    purpose = fields.CharEnumField(ConsentPurpose, max_length=40)
    granted = fields.BooleanField()
    policy_version = fields.CharField(max_length=32)
    channel = fields.CharEnumField(Channel, max_length=20)
    recorded_at = fields.DatetimeField()

    class Meta:
        table = "consent_record"


class MemberMergeRow(Model):
    id = fields.UUIDField(primary_key=True)
    source_member_id = fields.UUIDField(unique=True)  # a member is absorbed at most once
    target_member_id = fields.UUIDField(db_index=True)
    reason = fields.CharField(max_length=200)
    actor = fields.CharField(max_length=60)
    moved: Any = fields.JSONField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "member_merge"


class PhoneCodeRow(Model):
    id = fields.UUIDField(primary_key=True)
    phone_hash = fields.CharField(max_length=64, db_index=True)
    code_hash = fields.CharField(max_length=64)
    expires_at = fields.DatetimeField(db_index=True)
    attempts = fields.IntField()
    created_at = fields.DatetimeField()
    consumed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "phone_code"


class PiiAccessRow(Model):
    id = fields.UUIDField(primary_key=True)
    actor = fields.CharField(max_length=60)
    member_id = fields.UUIDField(db_index=True)
    kinds: Any = fields.JSONField()
    reason = fields.CharField(max_length=200)
    created_at = fields.DatetimeField()

    class Meta:
        table = "pii_access_log"


class MergeCandidateRow(Model):
    """A phone claimed by one account and held by another with its own platform identity:
    customer service's queue."""

    id = fields.UUIDField(primary_key=True)
    claimant_member_id = fields.UUIDField(db_index=True)
    holder_member_id = fields.UUIDField(db_index=True)
    identity_hash = fields.CharField(max_length=64)
    masked = fields.CharField(max_length=64)
    verified_by = fields.CharEnumField(VerifiedBy, max_length=10)
    state = fields.CharEnumField(CandidateState, max_length=16)
    created_at = fields.DatetimeField()
    decided_by = fields.CharField(max_length=60, null=True)
    decided_at = fields.DatetimeField(null=True)
    reason = fields.CharField(max_length=200)

    class Meta:
        table = "merge_candidate"
        indexes = (("state", "created_at"),)
