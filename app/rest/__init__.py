"""The REST compat adapter: DartAPI-shaped routes over the same services as GraphQL."""
