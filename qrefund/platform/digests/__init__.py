"""Daily digests (smart reminders): per merchant and per agency, what needs attention."""
