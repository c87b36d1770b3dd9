"""GraphQL object and input types, built from repository rows."""
