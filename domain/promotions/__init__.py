"""Promotions: coupons, member prices and the pricing of a cart, flash sales. Flash sales (秒杀)
live in `flash_sales` (use cases and the checkout's `flash_price_in_uow`), `flash_sales_model`
and `flash_sales_ports`. Their deps in `deps`."""
