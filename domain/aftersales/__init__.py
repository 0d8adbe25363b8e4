"""After-sales: what happens after a sale (returns and refunds, reviews, invoices) and the
member code that lets a member consent to a till sale (`member_codes`)."""
