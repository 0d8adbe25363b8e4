"""omnishelf domain: plain Python entities, rules, ports and use cases per bounded context."""
