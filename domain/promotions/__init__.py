"""Promotions: coupon templates and coupons (`coupons`, `coupons_model`, `coupons_ports`,
`coupons_checkout`: what checkout calls), member prices, flash sales (秒杀: `flash_sales`, with
the checkout's `flash_price_in_uow`, `flash_sales_model`, `flash_sales_ports`). Their deps in
`deps`."""
