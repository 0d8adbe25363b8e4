"""One small permission class per rule; each failure carries a code and says what is needed."""

from __future__ import annotations

from strawberry.permission import BasePermission
from strawberry.types import Info

from api.arguments import id_arg
from api.context import Context
from api.errors import ApiError
from domain.identity.model import ApiScope, DeviceKind, Principal, PrincipalKind, StaffRole
from domain.ordering.services import sees_store_orders


def _principal(info: Info[Context, object]) -> Principal | None:
    return info.context.principal


class IsAuthenticated(BasePermission):
    message = "Log in first: send `Authorization: Bearer <token>`."
    error_extensions = {"code": "UNAUTHENTICATED"}

    def has_permission(self, source: object, info: Info[Context, object], **kwargs: object) -> bool:
        return _principal(info) is not None


class _Forbidden(BasePermission):
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: object, info: Info[Context, object], **kwargs: object) -> bool:
        principal = _principal(info)
        if principal is None:
            # An anonymous caller is told to authenticate, a known one that it lacks the right.
            raise ApiError("UNAUTHENTICATED", IsAuthenticated.message)
        return self.allows(principal)

    def allows(self, principal: Principal) -> bool:
        raise NotImplementedError


class IsAdmin(_Forbidden):
    message = "Only ADMIN staff may do this."

    def allows(self, principal: Principal) -> bool:
        return principal.is_admin


class IsStaff(_Forbidden):
    message = "Only staff may do this."

    def allows(self, principal: Principal) -> bool:
        return principal.kind is PrincipalKind.STAFF


class CanManageStores(_Forbidden):
    message = "Only ADMIN or STORE_MANAGER staff may do this."

    def allows(self, principal: Principal) -> bool:
        return principal.has_role(StaffRole.ADMIN, StaffRole.STORE_MANAGER)


class CanWriteCatalog(_Forbidden):
    message = "Only ADMIN staff or API keys with the catalog:write scope may change the catalog."

    def allows(self, principal: Principal) -> bool:
        return principal.is_admin or principal.has_scope(ApiScope.CATALOG_WRITE)


class CanWriteLocations(_Forbidden):
    message = "Only ADMIN staff or API keys with the locations:write scope may add locations."

    def allows(self, principal: Principal) -> bool:
        return principal.is_admin or principal.has_scope(ApiScope.LOCATIONS_WRITE)


class IsMember(_Forbidden):
    message = "Only a logged-in member may do this (loginWithWechat or loginWithPhone)."

    def allows(self, principal: Principal) -> bool:
        return principal.is_member


class CanServeMembers(_Forbidden):
    message = "Only POS devices and staff may look up or enrol members."

    def allows(self, principal: Principal) -> bool:
        if principal.kind is PrincipalKind.DEVICE:
            return principal.device_kind is DeviceKind.POS
        return principal.kind is PrincipalKind.STAFF


class CanSeePickupQueue(_Forbidden):
    message = (
        "Only ADMIN and a store's own staff and devices (kiosk, POS) see its pickup queue: "
        "ask for the queue of a store you work at; members follow their orders in "
        "`me { orders }`."
    )

    def has_permission(self, source: object, info: Info[Context, object], **kwargs: object) -> bool:
        if not super().has_permission(source, info, **kwargs):
            return False
        principal = _principal(info)
        assert principal is not None  # _Forbidden refused the anonymous caller
        location = id_arg(str(kwargs["location_id"]), "Location", "locationId")
        return sees_store_orders(principal, location)

    def allows(self, principal: Principal) -> bool:
        return principal.kind in (PrincipalKind.STAFF, PrincipalKind.DEVICE)


class IsCustomerService(_Forbidden):
    message = "Only CS_AGENT or ADMIN staff may do this."

    def allows(self, principal: Principal) -> bool:
        return principal.has_role(StaffRole.ADMIN, StaffRole.CS_AGENT)


class CanReadOrders(_Forbidden):
    message = "Only CS_AGENT or ADMIN staff, or API keys with the orders:read scope, list orders."

    def allows(self, principal: Principal) -> bool:
        return principal.has_role(StaffRole.ADMIN, StaffRole.CS_AGENT) or principal.has_scope(
            ApiScope.ORDERS_READ
        )


class CanReadMembers(_Forbidden):
    message = (
        "Only CS_AGENT or ADMIN staff, or API keys with the members:read scope (masked), "
        "read members."
    )

    def allows(self, principal: Principal) -> bool:
        return principal.has_pii_access or principal.has_scope(ApiScope.MEMBERS_READ)


class CanTagMembers(_Forbidden):
    message = "Only STORE_MANAGER, CS_AGENT or ADMIN staff tag members."

    def allows(self, principal: Principal) -> bool:
        return principal.has_role(StaffRole.ADMIN, StaffRole.CS_AGENT, StaffRole.STORE_MANAGER)


class CanDecidePointsClaims(_Forbidden):
    message = "Only STORE_MANAGER, CS_AGENT or ADMIN staff decide points claims."

    def allows(self, principal: Principal) -> bool:
        return principal.has_role(StaffRole.ADMIN, StaffRole.CS_AGENT, StaffRole.STORE_MANAGER)


class CanRequestAfterSales(_Forbidden):
    message = "Members, POS devices and staff request after-sales (staff for a member)."

    def allows(self, principal: Principal) -> bool:
        if principal.kind is PrincipalKind.DEVICE:
            return principal.device_kind is DeviceKind.POS
        return principal.is_member or principal.kind is PrincipalKind.STAFF


class CanDecideAfterSales(_Forbidden):
    message = "Only STORE_MANAGER, CS_AGENT or ADMIN staff decide after-sales."

    def allows(self, principal: Principal) -> bool:
        return principal.has_role(StaffRole.ADMIN, StaffRole.CS_AGENT, StaffRole.STORE_MANAGER)


class CanWithdrawAfterSales(_Forbidden):
    message = "Only members (their own requests), CS_AGENT and ADMIN staff withdraw after-sales."

    def allows(self, principal: Principal) -> bool:
        return principal.is_member or principal.has_role(StaffRole.ADMIN, StaffRole.CS_AGENT)


class CanReceiveReturns(_Forbidden):
    message = "Only POS devices and store staff receive returned goods."

    def allows(self, principal: Principal) -> bool:
        if principal.kind is PrincipalKind.DEVICE:
            return principal.device_kind is DeviceKind.POS
        return principal.has_role(StaffRole.ADMIN, StaffRole.STORE_MANAGER, StaffRole.STORE_CLERK)


class CanListAfterSales(_Forbidden):
    message = "Only CS_AGENT, ADMIN and store staff list after-sales."

    def allows(self, principal: Principal) -> bool:
        return principal.has_role(
            StaffRole.ADMIN, StaffRole.CS_AGENT, StaffRole.STORE_MANAGER, StaffRole.STORE_CLERK
        )


class CanConfirmTillRefunds(_Forbidden):
    message = "Only POS devices and store staff confirm refunds given back at the till."

    def allows(self, principal: Principal) -> bool:
        if principal.kind is PrincipalKind.DEVICE:
            return principal.device_kind is DeviceKind.POS
        return principal.has_role(StaffRole.ADMIN, StaffRole.STORE_MANAGER, StaffRole.STORE_CLERK)


class CanRetryRefunds(_Forbidden):
    message = "Only CS_AGENT and ADMIN staff retry failed refunds."

    def allows(self, principal: Principal) -> bool:
        return principal.has_role(StaffRole.ADMIN, StaffRole.CS_AGENT)


class CanRecordSales(_Forbidden):
    message = "Only POS devices and store staff record till sales."

    def allows(self, principal: Principal) -> bool:
        if principal.kind is PrincipalKind.DEVICE:
            return principal.device_kind is DeviceKind.POS
        return principal.has_role(StaffRole.ADMIN, StaffRole.STORE_MANAGER, StaffRole.STORE_CLERK)


class IsStockSyncer(_Forbidden):
    message = "Only ADMIN staff or API keys with stock:write sync stock in bulk."

    def allows(self, principal: Principal) -> bool:
        return principal.is_admin or principal.has_scope(ApiScope.STOCK_WRITE)


class CanReadStock(_Forbidden):
    message = "Only staff, POS devices or API keys with stock:read see stock quantities."

    def allows(self, principal: Principal) -> bool:
        return sees_quantities(principal)


def sees_quantities(principal: Principal | None) -> bool:
    if principal is None:
        return False
    if principal.kind is PrincipalKind.STAFF:
        return True
    if principal.kind is PrincipalKind.DEVICE:
        return principal.device_kind is DeviceKind.POS
    return bool(
        principal.has_scope(ApiScope.STOCK_READ) or principal.has_scope(ApiScope.STOCK_WRITE)
    )


class IsGuide(_Forbidden):
    message = "Only STORE_CLERK and STORE_MANAGER staff are shopping guides."

    def allows(self, principal: Principal) -> bool:
        return principal.has_role(StaffRole.STORE_CLERK, StaffRole.STORE_MANAGER)


class CanAssignGuides(_Forbidden):
    message = "Only STORE_MANAGER, CS_AGENT or ADMIN staff manage shopping guides."

    def allows(self, principal: Principal) -> bool:
        return principal.has_role(StaffRole.ADMIN, StaffRole.CS_AGENT, StaffRole.STORE_MANAGER)


class CanReadMetrics(_Forbidden):
    message = "Only ADMIN or STORE_MANAGER staff read the numbers (a manager: their stores)."

    def allows(self, principal: Principal) -> bool:
        return principal.has_role(StaffRole.ADMIN, StaffRole.STORE_MANAGER)
