"""The REST compat adapter: DartAPI-shaped routes over the same services as GraphQL."""

PREFIX = "/api"  # where the routes are mounted (app.main); route templates are below it
