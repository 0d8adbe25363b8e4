"""Growth: social mechanics that bring members in and pay their rewards through promotions
(coupons) and loyalty (points), never by writing those contexts' tables. Referrals (老带新:
`referrals` (codes, attribution, rewards and claw-back), `referrals_programs` (ADMIN's
programs), `referrals_model`, `referrals_ports`); their deps in `deps`."""
