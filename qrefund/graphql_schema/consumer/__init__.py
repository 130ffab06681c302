"""The consumer's public GraphQL: ``receipt(token)`` and the receipt holder's mutations."""
