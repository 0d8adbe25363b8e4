"""After-sales: returns and refund-only requests after hand-over, their decision, the goods
received back, and the refund of what was paid for those lines."""
