"""Growth: the social mechanics that bring customers (referrals, group-buys, friend-assist,
shopping-guide attribution). It pays its rewards and prices through the promotions, loyalty
and ordering services (`*_in_uow`), never by writing their tables."""
