"""Guards around every mutation's use case.

Every string a mutation takes passes `text_problem` (api/document_guards.py) before its
resolver runs: a control character (a NUL byte reached the database driver, which refuses it:
INTERNAL_SERVER_ERROR) or an over-long text is the payload's INVALID_INPUT with the path of
the field, and nothing runs. Query and subscription arguments, which have no payload, get the
same check as a top-level INVALID_INPUT from `VariableLimits`.

A use case whose transaction lost a deadlock or a serialization conflict runs again
(`infra/db/retry.py`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any, cast

from strawberry.extensions import FieldExtension
from strawberry.types import Info
from strawberry.types.base import StrawberryList, get_object_definition
from strawberry.types.field import StrawberryField

from api.document_guards import text_problem
from api.errors import ApiError, UserError
from api.mutations import Payload, refuse
from domain.errors import CommonError, CommonErrorCode
from infra.db.retry import retrying

Found = tuple[str, list[str]]  # the message and the path of the first refused string


def _strings(value: object, path: list[str], info: Info[object, object]) -> Iterator[Found]:
    if isinstance(value, str):
        if (message := text_problem(value)) is not None:
            yield message, path
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, [*path, str(index)], info)
    elif isinstance(value, dict):  # a JSON scalar
        for key, item in value.items():
            yield from _strings(key, path, info)
            yield from _strings(item, [*path, str(key)], info)
    elif (definition := get_object_definition(value)) is not None:
        naming = info.schema.config.name_converter
        for field in definition.fields:
            name = naming.get_graphql_name(field)
            yield from _strings(getattr(value, field.python_name, None), [*path, name], info)


class TextInputs(FieldExtension):
    def apply(self, field: StrawberryField) -> None:
        self.field = field
        self.arguments = {a.python_name: a.graphql_name or a.python_name for a in field.arguments}

    def _refusal(self, info: Info[object, object], kwargs: dict[str, object]) -> object | None:
        for name, value in kwargs.items():
            # Payload errors name fields inside the one `input` (["lines", "0", "note"]).
            start = [] if name == "input" else [self.arguments.get(name, name)]
            for message, path in _strings(value, start, info):
                return self._payload(message, path)
        return None

    def _payload(self, message: str, path: list[str]) -> object:
        """The payload `mutate` answers for a refused use case, or a top-level error for a
        mutation whose result has no `errors`."""
        payload = self.field.type
        definition = getattr(payload, "__strawberry_definition__", None)
        errors = definition.get_field("errors") if definition else None
        if errors is None or not isinstance(errors.type, StrawberryList):
            raise ApiError("INVALID_INPUT", message, field=path)
        error_type = errors.type.of_type
        assert isinstance(error_type, type) and issubclass(error_type, UserError)
        error = CommonError(CommonErrorCode.INVALID_INPUT, message, path)
        # The schema found the type; only it can say that `errors` holds `error_type`.
        return refuse(cast("Payload[object, UserError]", payload), error_type, error)

    def resolve(
        self, next_: Callable[..., Any], source: Any, info: Info[Any, Any], **kwargs: Any
    ) -> Any:
        refused = self._refusal(info, kwargs)
        return refused if refused is not None else next_(source, info, **kwargs)

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: Info[Any, Any],
        **kwargs: Any,
    ) -> Any:
        refused = self._refusal(info, kwargs)
        return refused if refused is not None else await next_(source, info, **kwargs)


class RetryTransient(FieldExtension):
    """A mutation whose transaction lost a deadlock or a serialization conflict runs again
    (infra/db/retry.py): the client gets its answer, not INTERNAL_SERVER_ERROR."""

    def apply(self, field: StrawberryField) -> None:
        self.name = field.name

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: Info[Any, Any],
        **kwargs: Any,
    ) -> Any:
        return await retrying(lambda: next_(source, info, **kwargs), self.name)


def guard_mutations(mutation: type) -> None:
    """Put `TextInputs` and `RetryTransient` on every field of the Mutation type (once,
    however many schemas), first in the list: the innermost, after the permission checks (an
    anonymous caller is told to log in, not what is wrong with their text)."""
    for field in mutation.__strawberry_definition__.fields:  # type: ignore[attr-defined]
        if not any(isinstance(e, TextInputs) for e in field.extensions):
            field.extensions.insert(0, TextInputs())
            field.extensions.insert(0, RetryTransient())  # innermost: around the use case
