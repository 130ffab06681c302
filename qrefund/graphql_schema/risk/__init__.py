"""GraphQL for anomaly detection: risk flags, their review, ``flags`` on cases and payments."""
