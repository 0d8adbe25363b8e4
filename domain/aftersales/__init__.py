"""After-sales: what happens after the goods are handed over. Returns and refund-only requests,
their decision, the goods received back and the refund of what was paid for those lines
(`services`, `model`, `ports`); reviews and their moderation (`reviews`, `review_model`,
`review_ports`); the customer-service desk: notes, invoice requests, acting for a member
(`desk`, `desk_model`, `desk_ports`); the member code that lets a member consent to a till
sale (`member_codes`). Their deps in `deps`."""
