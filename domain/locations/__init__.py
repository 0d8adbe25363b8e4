"""Locations: stores, warehouses, front warehouses and pickup points, with where they are."""
