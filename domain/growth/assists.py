"""Friend-assist (助力): ADMIN runs campaigns; a member starts a task and shares it; other
members assist it; each threshold of helpers pays the task's owner once; a job expires the
tasks whose deadline passed.

An assist is one transaction, in a fixed lock order: `count_helper` counts the helper on the
task in a conditional update (OPEN, before its deadline), which also locks the task row until
the commit, so assists of one task run one after another and the count each one sees is
exact: the assist that makes it N pays the threshold N, and no other. The helper's daily cap
is a slot 1..DAILY_ASSISTS unique per (helper, store-local day): two assists of one helper on
two tasks at once cannot both take the last slot. Rewards are paid in the same transaction
(coupons through `grant_in_uow`, points through `credit_reward_in_uow`, each under a key of
the task and threshold), so a refused or failed assist pays nothing."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from domain.errors import DomainError, GrowthError, GrowthErrorCode
from domain.events import EventHandlers, MemberErased, MembersMerged
from domain.growth.assists_model import (
    DAILY_ASSISTS,
    Assist,
    AssistCampaign,
    AssistPayout,
    AssistTask,
    CampaignDraft,
    CampaignStatus,
    Reward,
    TaskStatus,
    TaskView,
    clean_draft,
    to_close_on_merge,
)
from domain.growth.deps import AssistDeps
from domain.idempotency import once
from domain.identity.model import Principal
from domain.ids import new_id
from domain.live import mask_name
from domain.locations.model import local_date
from domain.loyalty.services import credit_reward_in_uow
from domain.members.merge import absorbed_into_in_uow
from domain.members.model import Member
from domain.members.services import member_since_in_uow, surviving_member_in_uow
from domain.pagination import Page, PageRequest
from domain.promotions.coupons import coupon_template_in_uow, grant_in_uow
from domain.promotions.coupons_model import is_new_member
from domain.uow import UnitOfWork


def _error(code: GrowthErrorCode, message: str, *field: str) -> GrowthError:
    return GrowthError(code, message, list(field))


def _admin(actor: Principal) -> None:
    if not actor.is_admin:  # the permission class said so first; the rule lives here
        raise _error(GrowthErrorCode.FORBIDDEN, "Only ADMIN staff run assist campaigns.")


async def _campaign(uow: UnitOfWork, campaign_id: UUID, *, lock: bool = False) -> AssistCampaign:
    found = await uow.assists.get_campaign(campaign_id, lock=lock)
    if found is None:
        raise _error(GrowthErrorCode.NOT_FOUND, "No such assist campaign.", "campaignId")
    return found


async def _check_templates(uow: UnitOfWork, draft: CampaignDraft) -> None:
    """Every coupon a campaign pays names a template that exists (a typo would leave each
    reward unpaid)."""
    named = [(("thresholds", str(n)), t.reward) for n, t in enumerate(draft.thresholds)]
    for path, reward in [*named, (("helperReward",), draft.helper_reward)]:
        if reward.coupon_template_id is None:
            continue
        if await coupon_template_in_uow(uow, reward.coupon_template_id) is None:
            raise _error(
                GrowthErrorCode.NOT_FOUND, "No such coupon template.", *path, "couponTemplateId"
            )


async def create_campaign(
    deps: AssistDeps, actor: Principal, draft: CampaignDraft
) -> AssistCampaign:
    _admin(actor)
    clean = clean_draft(draft)
    now = deps.clock.now()
    campaign = AssistCampaign(
        id=new_id(),
        name=clean.name,
        thresholds=clean.thresholds,
        task_hours=clean.task_hours,
        new_helpers_only=clean.new_helpers_only,
        helper_reward=clean.helper_reward,
        status=CampaignStatus.ACTIVE,
        created_at=now,
        updated_at=now,
    )
    async with deps.uow() as uow:
        await _check_templates(uow, clean)
        await uow.assists.add_campaign(campaign)
    return campaign


async def update_campaign(
    deps: AssistDeps, actor: Principal, campaign_id: UUID, draft: CampaignDraft
) -> AssistCampaign:
    """Edit an ACTIVE campaign. Open tasks follow the new thresholds from their next assist
    on; a threshold already paid is never paid again (its key names the task and the count),
    and a task's deadline stays the one it started with."""
    _admin(actor)
    clean = clean_draft(draft)
    async with deps.uow() as uow:
        campaign = await _campaign(uow, campaign_id, lock=True)
        if campaign.status is CampaignStatus.ENDED:
            raise _error(GrowthErrorCode.CAMPAIGN_ENDED, "This campaign has ended.", "campaignId")
        await _check_templates(uow, clean)
        campaign.name, campaign.thresholds = clean.name, clean.thresholds
        campaign.task_hours, campaign.new_helpers_only = clean.task_hours, clean.new_helpers_only
        campaign.helper_reward = clean.helper_reward
        campaign.updated_at = deps.clock.now()
        await uow.assists.save_campaign(campaign)
    return campaign


async def end_campaign(deps: AssistDeps, actor: Principal, campaign_id: UUID) -> AssistCampaign:
    """No new tasks; open tasks run to their deadline (their sharers were promised them)."""
    _admin(actor)
    async with deps.uow() as uow:
        campaign = await _campaign(uow, campaign_id, lock=True)
        if campaign.status is not CampaignStatus.ENDED:
            campaign.status = CampaignStatus.ENDED
            campaign.updated_at = deps.clock.now()
            await uow.assists.save_campaign(campaign)
    return campaign


async def campaigns(
    deps: AssistDeps, status: CampaignStatus | None, page: PageRequest
) -> Page[AssistCampaign]:
    async with deps.uow() as uow:
        return await uow.assists.campaigns(status, page)


async def _member(uow: UnitOfWork, actor: Principal) -> Member:
    """The person behind the caller's token: a merged duplicate's token is its survivor."""
    if not actor.is_member:
        raise _error(GrowthErrorCode.FORBIDDEN, "Members take part in friend-assist.")
    member = await surviving_member_in_uow(uow, actor.id)
    if member is None or not member.is_active:
        raise _error(GrowthErrorCode.FORBIDDEN, "This account cannot take part.")
    return member


async def start_assist(deps: AssistDeps, actor: Principal, campaign_id: UUID) -> TaskView:
    """A member's task of the campaign: their open one if there is one (a retry, a second tap
    or a concurrent start all get the same task), else a new one running `task_hours`."""
    now = deps.clock.now()
    async with deps.uow() as uow:
        task = await _start_in_uow(uow, await _member(uow, actor), campaign_id, now)
        return (await _views(uow, [task], now))[0]


async def _start_in_uow(
    uow: UnitOfWork, member: Member, campaign_id: UUID, now: datetime
) -> AssistTask:
    campaign = await _campaign(uow, campaign_id)
    current = await uow.assists.open_task(campaign.id, member.id)
    if current is not None and current.is_open_at(now):
        return current
    if campaign.status is CampaignStatus.ENDED:
        raise _error(GrowthErrorCode.CAMPAIGN_ENDED, "This campaign has ended.", "campaignId")
    if current is not None:  # past its deadline, the expiry job has not run yet
        await uow.assists.close_task(current.id, TaskStatus.EXPIRED, now)
    task = AssistTask(
        id=new_id(),
        campaign_id=campaign.id,
        member_id=member.id,
        status=TaskStatus.OPEN,
        helpers=0,
        started_at=now,
        expires_at=campaign.deadline(now),
    )
    if await uow.assists.add_task(task):
        return task
    concurrent = await uow.assists.open_task(campaign.id, member.id)
    assert concurrent is not None  # the unique key said a concurrent start committed one
    return concurrent


async def assist(
    deps: AssistDeps, actor: Principal, task_id: UUID, idempotency_key: str | None = None
) -> TaskView:
    """Another member helps a task: once per task, at most DAILY_ASSISTS a store-local day
    across all tasks, never their own task (also not one of a duplicate merged into them or
    that they were merged into), only before its deadline. The assist that reaches a threshold
    pays it, in the same transaction."""
    now = deps.clock.now()
    async with deps.uow() as uow:

        async def write() -> dict[str, str]:
            helper = await _member(uow, actor)
            task = await uow.assists.get_task(task_id)
            if task is None:
                raise _error(GrowthErrorCode.NOT_FOUND, "No such assist task.", "taskId")
            owner = await surviving_member_in_uow(uow, task.member_id)
            if owner is None or not owner.is_active:  # its member erased their account
                raise _error(GrowthErrorCode.NOT_FOUND, "No such assist task.", "taskId")
            if owner.id == helper.id:
                raise _error(GrowthErrorCode.OWN_TASK, "You cannot assist your own task.", "taskId")
            campaign = await _campaign(uow, task.campaign_id)
            if campaign.new_helpers_only and not is_new_member(
                await member_since_in_uow(uow, helper), now
            ):
                raise _error(
                    GrowthErrorCode.NOT_A_NEW_MEMBER,
                    "Only new members can assist this campaign's tasks.",
                    "taskId",
                )
            # The person's other accounts, merged into this one, count as them.
            person = [helper.id, *await absorbed_into_in_uow(uow, helper.id)]
            await _refuse_closed(uow, task, now)  # before the lock: the usual refusals
            if await uow.assists.has_assisted(task.id, person):
                raise _already()
            helpers = await uow.assists.count_helper(task.id, now)
            if helpers is None:  # closed meanwhile
                await _refuse_closed(uow, task, now, reread=True)
            assert helpers is not None
            # The task row is ours until the commit: what we read of it from here is settled.
            if await uow.assists.has_assisted(task.id, person):
                raise _already()
            await _take_slot(uow, task.id, helper, person[1:], now)
            task.helpers = helpers
            await _pay(deps, uow, campaign, task, owner.id, helper.id)
            if helpers >= campaign.goal:
                await uow.assists.close_task(task.id, TaskStatus.COMPLETED, now)
            return {"task_id": str(task.id)}

        result = await once(
            uow.idempotency,
            f"{actor.label}:assist",
            idempotency_key,
            {"t": str(task_id)},
            now,
            write,
        )
        found = await uow.assists.get_task(UUID(result["task_id"]))
        assert found is not None
        return (await _views(uow, [found], now))[0]


def _already() -> GrowthError:
    return _error(GrowthErrorCode.ALREADY_ASSISTED, "You assisted this task already.", "taskId")


async def _refuse_closed(
    uow: UnitOfWork, task: AssistTask, now: datetime, *, reread: bool = False
) -> None:
    current = await uow.assists.get_task(task.id) if reread else task
    assert current is not None
    if current.status is TaskStatus.COMPLETED:
        raise _error(
            GrowthErrorCode.TASK_COMPLETED, "This task has every helper it needs.", "taskId"
        )
    if current.status is TaskStatus.EXPIRED or not current.is_open_at(now):
        raise _error(GrowthErrorCode.TASK_EXPIRED, "This task has ended.", "taskId")


async def _take_slot(
    uow: UnitOfWork, task_id: UUID, helper: Member, absorbed: list[UUID], now: datetime
) -> None:
    """The helper's first free slot of the day; a slot a concurrent assist took (its insert
    waited for that transaction) sends us to the next one. Assists the person made today from
    accounts since merged into this one (they can no longer sign in) use up slots too."""
    day = local_date(now, None)
    name = mask_name(helper.display_name) or "**"
    used_elsewhere = await uow.assists.assists_on(absorbed, day) if absorbed else 0
    for slot in range(1, DAILY_ASSISTS - used_elsewhere + 1):
        if slot in await uow.assists.slots_taken(helper.id, day):
            continue
        made = Assist(new_id(), task_id, helper.id, name, day, slot, now)
        if await uow.assists.add_assist(made):
            return
    raise _error(
        GrowthErrorCode.DAILY_LIMIT_REACHED,
        f"You assisted {DAILY_ASSISTS} tasks today; come back tomorrow.",
        "taskId",
    )


async def _pay(
    deps: AssistDeps,
    uow: UnitOfWork,
    campaign: AssistCampaign,
    task: AssistTask,
    owner_id: UUID,
    helper_id: UUID,
) -> None:
    """The threshold this assist reached (to the owner) and the helper's reward. Coupons first
    (template rows, by id), then points (account rows, by member): one lock order for every
    assist."""
    due: list[tuple[UUID, int, Reward]] = []
    reached = campaign.reached_at(task.helpers)
    if reached is not None:
        due.append((owner_id, reached.helpers, reached.reward))
    if not campaign.helper_reward.is_empty:
        due.append((helper_id, 0, campaign.helper_reward))
    coupons: dict[tuple[UUID, int], tuple[UUID | None, str | None]] = {}
    for member_id, threshold, reward in sorted(
        due, key=lambda d: (str(d[2].coupon_template_id), str(d[0]))
    ):
        if reward.coupon_template_id is not None:
            coupons[(member_id, threshold)] = await _grant(
                deps, uow, reward.coupon_template_id, member_id, _key(task, member_id, threshold)
            )
    for member_id, threshold, reward in sorted(due, key=lambda d: str(d[0])):
        key = _key(task, member_id, threshold)
        if reward.points:
            await credit_reward_in_uow(
                deps.loyalty, uow, member_id, reward.points, f"assist:{task.id}", campaign.name, key
            )
        coupon_id, unpaid = coupons.get((member_id, threshold), (None, None))
        await uow.assists.add_payout(
            AssistPayout(
                id=new_id(),
                task_id=task.id,
                member_id=member_id,
                threshold=threshold,
                coupon_id=coupon_id,
                points=reward.points,
                unpaid=unpaid,
                paid_at=deps.clock.now(),
            )
        )


def _key(task: AssistTask, member_id: UUID, threshold: int) -> str:
    """One reward, whoever pays it how often: the task, the member and the threshold (0: the
    helper's reward)."""
    return f"assist:{task.id}:{member_id}:{threshold}"


async def _grant(
    deps: AssistDeps, uow: UnitOfWork, template_id: UUID, member_id: UUID, key: str
) -> tuple[UUID | None, str | None]:
    """The coupon, or why it could not be given: a template sold out, paused or ended, or for
    new members only, refuses before it writes anything, and the assist still counts."""
    try:
        coupon = await grant_in_uow(deps.coupons, uow, template_id, member_id, key)
    except DomainError as refused:
        return None, refused.code.value
    return coupon.id, None


async def task_view(deps: AssistDeps, task_id: UUID) -> TaskView:
    async with deps.uow() as uow:
        task = await uow.assists.get_task(task_id)
        if task is None:
            raise _error(GrowthErrorCode.NOT_FOUND, "No such assist task.", "id")
        views = await _views(uow, [task], deps.clock.now())
    return views[0]


async def tasks_of_member(deps: AssistDeps, member_id: UUID) -> list[TaskView]:
    async with deps.uow() as uow:
        tasks = await uow.assists.tasks_of_member(member_id, deps.policy.my_tasks)
        return await _views(uow, tasks, deps.clock.now())


async def _views(uow: UnitOfWork, tasks: list[AssistTask], now: datetime) -> list[TaskView]:
    """Tasks with their campaigns and helpers: three statements for any number of tasks."""
    if not tasks:
        return []
    found = await uow.assists.campaigns_of([t.campaign_id for t in tasks])
    by_id = {c.id: c for c in found}
    helpers: dict[UUID, list[Assist]] = {t.id: [] for t in tasks}
    for made in await uow.assists.assists_of([t.id for t in tasks]):
        helpers[made.task_id].append(made)
    return [
        TaskView(t, by_id[t.campaign_id], tuple(helpers[t.id]), t.status_at(now)) for t in tasks
    ]


async def merge_in_uow(deps: AssistDeps, uow: UnitOfWork, source: UUID, target: UUID) -> None:
    """A merge: the absorbed member's tasks become the survivor's; where both had an open task
    of one campaign, `to_close_on_merge` says which one is MERGED (both rows locked first, so
    no assist counts on them meanwhile)."""
    open_tasks = await uow.assists.open_tasks_of([source, target])
    theirs = {t.campaign_id: t for t in open_tasks if t.member_id == target}
    now = deps.clock.now()
    for task in open_tasks:
        other = theirs.get(task.campaign_id)
        if task.member_id == source and other is not None:
            closing = to_close_on_merge(task, other)
            await uow.assists.close_task(closing.id, TaskStatus.MERGED, now)
    await uow.assists.move_member(source, target)


def register_handlers(deps: AssistDeps, events: EventHandlers) -> None:
    async def on_merged(uow: UnitOfWork, event: MembersMerged) -> None:
        await merge_in_uow(deps, uow, event.source_member_id, event.target_member_id)

    async def on_erased(uow: UnitOfWork, event: MemberErased) -> None:
        # The masked name (王**) still says something of the person: it goes, also from the
        # assists of accounts merged into theirs (a merge leaves assists where they are); the
        # assist, its count and the rewards it paid stay.
        person = [event.member_id, *await absorbed_into_in_uow(uow, event.member_id)]
        await uow.assists.forget_helpers(person)

    events.register(MembersMerged, on_merged)
    events.register(MemberErased, on_erased)


async def expire_tasks(deps: AssistDeps) -> int:
    """Job: OPEN tasks past their deadline become EXPIRED (idempotent, in batches)."""
    total = 0
    while True:
        async with deps.uow() as uow:
            done = await uow.assists.expire_tasks(deps.clock.now(), deps.policy.batch)
        total += done
        if done < deps.policy.batch:
            return total
