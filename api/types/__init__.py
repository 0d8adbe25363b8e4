"""GraphQL object types; each converts from a domain object with `from_domain`."""
