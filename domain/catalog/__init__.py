"""Catalog: products, their variants (the SKUs customers buy) and categories."""
