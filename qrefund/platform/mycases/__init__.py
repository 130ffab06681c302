""""My refunds": what a consumer filed with a proven phone number or e-mail address."""
