"""Per-request data loaders: one per key, one instance per request, no SQL here.

A loader batches every key asked for in one tick of the event loop into one call
of a domain service function (``(uow, keys) -> {key: value}``), which runs one
statement for the whole batch inside the request's read unit; so a page of
objects with nested relations costs a fixed number of statements whatever its size.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from qrefund.graphql_schema.context import Context
from qrefund.platform.db import UnitOfWork
from qrefund.platform.transactions import service as transactions
from qrefund.platform.transactions.models import Transaction
from qrefund.tenants import service as tenants
from qrefund.tenants.models import Tenant

K = TypeVar("K")
V = TypeVar("V")
ScopedKey = tuple[uuid.UUID, uuid.UUID]
Fetch = Callable[[UnitOfWork, Sequence[K]], Awaitable[Mapping[Any, Any]]]


def batch_loader(ctx: Context, name: str, fetch: Fetch[K],
                 default: Callable[[], V]) -> DataLoader[K, V]:
    """The request's loader ``name``: keys batched into one ``fetch`` call; a key the
    service did not answer (absent, or outside the scope) gets ``default()``."""

    def make(context: Context) -> DataLoader[K, V]:
        async def load(keys: Sequence[K]) -> list[V]:
            async with context.reading() as uow:
                found = await fetch(uow, keys)
            return [found.get(k, default()) for k in keys]

        return DataLoader(load_fn=load)

    loader: DataLoader[K, V] = ctx.loader(name, make)
    return loader


async def _tenants(uow: UnitOfWork, keys: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, Tenant]:
    return await tenants.tenants_by_id(uow, set(keys))


def tenant_loader(ctx: Context) -> DataLoader[uuid.UUID, Tenant | None]:
    return batch_loader(ctx, "tenant_by_id", _tenants, lambda: None)


def transaction_loader(ctx: Context) -> DataLoader[ScopedKey, Transaction | None]:
    return batch_loader(ctx, "transaction_by_id", transactions.by_keys, lambda: None)


# The attribute by_loader leaves on a resolver: (loader factory, key function).
BATCH_ATTRIBUTE = "_qrefund_by_loader"


def by_loader(loader: Callable[[Context], DataLoader[K, V]],
              key: Callable[[Any], K]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A resolver that is exactly ``loader(info.context).load(key(self))``.

    The decorated function gives the field its signature, return type and docstring;
    its body is replaced. The pair is kept on the resolver, so the fast execution path
    (``execution.py``) can ask the loader for a whole list of objects at once with
    ``load_many`` before it completes them, instead of one future, one awaitable and
    one task per object: the same loader, the same keys, the same statement.
    """

    def replace(resolver: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(resolver)
        def resolve(self: Any, info: Any) -> Any:
            return loader(info.context).load(key(self))

        setattr(resolve, BATCH_ATTRIBUTE, (loader, key))
        return resolve

    return replace
