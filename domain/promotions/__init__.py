"""Promotions: the one pricing of a cart (`pricing`: member prices, flash prices, later coupon
discounts), member prices (`member_prices`, `member_prices_model`, `member_prices_ports`),
coupon templates and coupons (`coupons`, `coupons_model`, `coupons_ports`, `coupons_checkout`:
what checkout calls), flash sales (秒杀: `flash_sales` with the checkout's
`live_flash_sales_in_uow` and `take_flash_units_in_uow`, `flash_sales_model`,
`flash_sales_ports`). Their deps in `deps`."""
