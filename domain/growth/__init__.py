"""Growth: the social mechanics that bring customers (referrals, group-buys, friend-assist,
shopping-guide attribution). It pays its rewards through promotions (coupons) and loyalty
(points) services, never by writing their tables. Referrals (老带新): `referrals` (codes,
attribution, rewards and claw-back), `referrals_programs` (ADMIN's programs),
`referrals_model`, `referrals_ports`; group-buys (拼团): `group_buys*`; friend-assist (助力):
`assists*`; shopping-guide attribution (导购): `guides` (codes, bindings, attribution of
orders, performance), `guides_model`, `guides_ports`; their deps in `deps`."""
