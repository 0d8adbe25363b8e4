"""GraphQL API: strawberry types, resolvers, permissions and the Starlette app."""
