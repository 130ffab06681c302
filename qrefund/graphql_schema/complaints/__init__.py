"""GraphQL for complaint tickets: types, loaders, the list, and the ticket mutations."""
