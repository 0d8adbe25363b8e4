"""Identity: who calls us (staff, devices, API keys, later members) and what they may do."""
