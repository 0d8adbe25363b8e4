"""Growth: the social mechanics that bring customers (referrals, group-buys, friend-assist,
shopping-guide attribution). It pays its rewards through promotions (coupons) and loyalty
(points) services, never by writing their tables."""
