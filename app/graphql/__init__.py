"""The GraphQL adapter: types translate rows, resolvers call services, loaders batch reads."""
