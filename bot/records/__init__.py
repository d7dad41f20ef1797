"""The council's documents: result announcements and meeting minutes (PDF), the register of ballots (.xlsx).

Builders only: each takes plain data prepared by ``bot.services.records`` and returns the file's bytes.
They speak no SQL and know no chat; Chinese renders through the font shipped in ``bot/assets/fonts``.
"""
