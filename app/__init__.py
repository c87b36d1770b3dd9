"""studentgraph: a GraphQL API and DartAPI-compatible REST routes over student records."""
