"""What the engagement use cases need (their *Deps bundles), as every context keeps them."""
