"""One module per command; each imports only click at the top (lean start-up)."""
