"""Time: APScheduler jobs derived from the database (deadlines, reminders, nudges, digests, meetings)."""
