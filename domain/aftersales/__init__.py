"""After-sales: what happens after the goods are handed over (returns and refunds, reviews and
their moderation, invoice requests). Reviews: `reviews` (use cases), `review_model` (rules),
`review_ports`; their deps in `deps` (`ReviewDeps`)."""
